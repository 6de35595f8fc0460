"""What an output folder holds, read from its videos' state databases.

The write step commits each image's record as soon as the file is in place, so reading
the databases (rather than the ``VIDEO_info.json`` files, written once a video is done)
shows the images of a running ``extract`` as they appear. Only the pipeline's own
records are read here, never written; decisions and people come from
:mod:`personframes.state.review`.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..output.safe_paths import is_real_file, sqlite_uri
from ..pipeline.restored import before_path
from ..state.index import FolderIndex
from ..state.records import WriteItem
from ..state.review import UNREVIEWED, person_key
from ..state.video import STATE_FILENAME, video_folder

log = logging.getLogger(__name__)

STEPS = ("scan", "select", "write", "manifest")


@dataclass(frozen=True)
class Entry:
    """One output image, as the gallery and the contact sheet show it."""

    path: str  # relative to OUT, with "/" (a --group-by-person folder first)
    video: str  # the video's output stem
    kind: str
    person: str  # VIDEO_STEM:ID, before merges
    person_id: int
    pose: str
    head: str
    shot: str
    quality: float | None  # overall, 0 to 1
    size: tuple[int, int]
    frame_index: int
    reason: str
    details: dict[str, Any] = field(default_factory=dict)  # quality parts, restoration
    before: str | None = None  # the crop before restoration, relative to OUT

    @property
    def restored(self) -> bool:
        return self.before is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"restored": self.restored}


@dataclass(frozen=True)
class VideoProgress:
    video: str
    step: str  # the step under way ("done" when the manifest is written)
    written: int  # images written
    planned: int  # images the select step chose (0 before it is done)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _entry(output_dir: Path, stem: str, video_key: str, item: WriteItem) -> Entry:
    before = None
    if item.before is not None:
        candidate = before_path(video_key, item.file)
        if is_real_file(output_dir, candidate):
            before = candidate
    restoration = item.restoration
    details: dict[str, Any] = {"quality": item.quality.model_dump()}
    if restoration is not None:
        details["restoration"] = {
            "model": restoration.model,
            "decision": restoration.decision,
            "reason": restoration.reason,
            "engine": restoration.engine,
            "precision": restoration.precision,
            "identity_distance": restoration.identity_distance,
        }
    return Entry(
        path=item.path,
        video=stem,
        kind=item.kind,
        person=person_key(stem, item.person_id),
        person_id=item.person_id,
        pose=item.pose,
        head=item.head_direction,
        shot=item.shot_type,
        quality=float(item.quality.overall),
        size=(int(item.size[0]), int(item.size[1])),
        frame_index=item.frame_index,
        reason=item.reason,
        details=details,
        before=before,
    )


@dataclass
class _Video:
    """What one video's state database said when last read."""

    stamp: tuple[int, int]
    stem: str | None
    steps: dict[str, bool]
    rows: list[tuple[str, str]]  # the write step's (key, JSON)
    planned: int


def read_only(output_dir: Path, path: Path) -> sqlite3.Connection:
    """A connection that cannot write (the gallery and export read while extract runs)
    to the database ``path`` below ``output_dir``; OutputError when it is a link."""
    db = sqlite3.connect(sqlite_uri(output_dir, path, "ro"), uri=True, timeout=30)
    db.execute("PRAGMA query_only=1")
    return db


class Catalog:
    """The images of one output folder and the progress of its videos, read from the
    videos' state databases (each read again only when its file changed)."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self._index = FolderIndex(output_dir)
        self._bad: set[tuple[str, str]] = set()
        self._videos: dict[str, _Video] = {}
        self._cached: tuple[tuple[Any, ...], list[Entry]] | None = None

    def _stamp(self, key: str) -> tuple[int, int] | None:
        try:
            stat = (video_folder(self.output_dir, key) / STATE_FILENAME).stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _read(self, key: str, stamp: tuple[int, int]) -> _Video | None:
        try:
            stem = self._index.stem_of(key)
            db = read_only(self.output_dir, video_folder(self.output_dir, key) / STATE_FILENAME)
            try:
                steps = {str(s): bool(d) for s, d in db.execute("SELECT step, done FROM steps")}
                rows = db.execute(
                    "SELECT key, data FROM records WHERE step='write' AND key NOT LIKE '~%'"
                    " ORDER BY seq, key"
                ).fetchall()
                planned = db.execute(
                    "SELECT count(*) FROM records WHERE step='select' AND key NOT LIKE '~%'"
                ).fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error as exc:  # being written, or damaged: as it was when last read
            log.debug("%s: not read now (%s)", key, exc)
            return self._videos.get(key)
        except OutputError as exc:  # a link planted in the state folder: never followed
            if (key, "") not in self._bad:
                self._bad.add((key, ""))
                log.warning("%s: left out (%s)", key, exc)
            return None
        return _Video(stamp, stem, steps, [(str(k), str(d)) for k, d in rows], int(planned))

    def _refresh(self) -> dict[str, _Video]:
        """Every video's data, read again where its database changed."""
        videos: dict[str, _Video] = {}
        for key in self._index.videos():
            stamp = self._stamp(key)
            known = self._videos.get(key)
            if stamp is None:
                continue
            if known is None or known.stamp != stamp:
                known = self._read(key, stamp)
            if known is not None:
                videos[key] = known
        self._videos = videos
        return videos

    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever an image is written or a step moves on (cheap to poll)."""
        return tuple(sorted((key, video.stamp) for key, video in self._refresh().items()))

    def entries(self) -> list[Entry]:
        """Every image written so far whose file is still there, in video and frame order
        (read again when a database changed)."""
        version = self.fingerprint()
        if self._cached is None or self._cached[0] != version:
            self._cached = (version, self._read_entries())
        return self._cached[1]

    def served_paths(self) -> set[str]:
        """The files of the folder the gallery may serve: the images and their crops
        before restoration."""
        entries = self.entries()
        return {e.path for e in entries} | {e.before for e in entries if e.before}

    def _read_entries(self) -> list[Entry]:
        entries: list[Entry] = []
        for video_key, video in self._videos.items():
            if video.stem is None:
                continue
            for key, data in video.rows:
                try:
                    item = WriteItem.model_validate_json(data)
                except ValueError as exc:
                    if (video_key, key) not in self._bad:
                        self._bad.add((video_key, key))
                        log.warning("%s: a write record that does not fit, left out (%s)", key, exc)
                    continue
                if is_real_file(self.output_dir, item.path):
                    entries.append(_entry(self.output_dir, video.stem, video_key, item))
        entries.sort(key=lambda e: (e.video, e.person_id, e.frame_index, e.kind, e.path))
        return entries

    def progress(self) -> list[VideoProgress]:
        """Each video's step under way and its images written of those planned."""
        result = []
        for video in sorted(self._refresh().values(), key=lambda v: v.stem or ""):
            if video.stem is None:
                continue
            current = next((s for s in STEPS if not video.steps.get(s)), "done")
            planned = video.planned if video.steps.get("select") else 0
            result.append(VideoProgress(video.stem, current, len(video.rows), planned))
        return result

    def stems(self) -> list[str]:
        """The output stems of every video with state here."""
        return sorted(v.stem for v in self._refresh().values() if v.stem is not None)


def decision_of(decisions: dict[str, str], path: str) -> str:
    return decisions.get(path, UNREVIEWED)
