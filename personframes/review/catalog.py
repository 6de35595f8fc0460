"""What an output folder holds, read from its videos' state databases.

The write step commits each image's record as soon as the file is in place (the clips
step each clip's, ``extract --clips``), so reading the databases (rather than the
``VIDEO_info.json`` files, written once a video is done) shows the images and clips of a
running ``extract`` as they appear. Only the pipeline's own
records are read here, never written; decisions and people come from
:mod:`personframes.state.review`.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..errors import OutputError
from ..output.safe_paths import is_real_file, sqlite_uri
from ..pipeline.restored import before_path
from ..state.index import FolderIndex
from ..state.records import ClipItem, Record, WriteItem
from ..state.review import UNREVIEWED, person_key
from ..state.video import STATE_FILENAME, video_folder

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)

STEPS = ("scan", "select", "write", "clips", "manifest")
CLIP = "clip"  # the kind of a clip (extract --clips): an .mp4, not an image


@dataclass(frozen=True)
class Entry:
    """One output image or clip, as the gallery and the contact sheet show it."""

    path: str  # relative to OUT, with "/" (a --group-by-person folder first)
    video: str  # the video's output stem
    kind: str  # face, frame, body; or clip (an .mp4, extract --clips)
    person: str  # VIDEO_STEM:ID, before merges
    person_id: int
    pose: str
    head: str
    shot: str
    quality: float | None  # overall, 0 to 1
    size: tuple[int, int]
    frame_index: int  # a clip's first
    reason: str
    details: dict[str, Any] = field(default_factory=dict)  # quality parts, restoration, clip
    before: str | None = None  # the crop before restoration, relative to OUT

    @property
    def restored(self) -> bool:
        return self.before is not None

    @property
    def is_clip(self) -> bool:
        return self.kind == CLIP

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"restored": self.restored}


@dataclass(frozen=True)
class VideoProgress:
    video: str
    step: str  # the step under way ("done" when the manifest is written)
    written: int  # images written
    planned: int  # images the select step chose (0 before it is done)
    clips: int  # clips written (extract --clips)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _described(stem: str, item: WriteItem | ClipItem) -> dict[str, Any]:
    """What an image's and a clip's gallery entries say alike."""
    return {
        "path": item.path,
        "video": stem,
        "kind": item.kind,
        "person": person_key(stem, item.person_id),
        "person_id": item.person_id,
        "pose": item.pose,
        "head": item.head_direction,
        "shot": item.shot_type,
        "quality": float(item.quality.overall),
        "size": (int(item.size[0]), int(item.size[1])),
        "reason": item.reason,
    }


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
        **_described(stem, item),
        frame_index=item.frame_index,
        details=details,
        before=before,
    )


def _clip_entry(stem: str, item: ClipItem) -> Entry:
    clip = {
        "start_s": item.start_s,
        "end_s": item.end_s,
        "frames": item.frames,
        "fps": item.fps,
        "crop": item.crop,
        "shot": item.shot,
        "frames_bridged": item.frames_bridged,
        "smoothed_jitter_px": item.smoothed_jitter_px,
    }
    return Entry(
        **_described(stem, item),
        frame_index=item.first_frame_index,
        details={"quality": item.quality.model_dump(), "clip": clip},
    )


@dataclass
class _Video:
    """What one video's state database said when last read."""

    stamp: tuple[int, int]
    stem: str | None
    steps: dict[str, bool]
    rows: list[tuple[str, str]]  # the write step's (key, JSON)
    clip_rows: list[tuple[str, str]]  # the clips step's
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
                rows, clip_rows = (
                    db.execute(
                        "SELECT key, data FROM records WHERE step=? AND key NOT LIKE '~%'"
                        " ORDER BY seq, key",
                        (step,),
                    ).fetchall()
                    for step in ("write", "clips")
                )
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
        return _Video(
            stamp,
            stem,
            steps,
            [(str(k), str(d)) for k, d in rows],
            [(str(k), str(d)) for k, d in clip_rows],
            int(planned),
        )

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
        """Every image and clip written so far whose file is still there, in video and
        frame order (read again when a database changed)."""
        version = self.fingerprint()
        if self._cached is None or self._cached[0] != version:
            self._cached = (version, self._read_entries())
        return self._cached[1]

    def served_paths(self) -> set[str]:
        """The files of the folder the gallery may serve: the images, their crops before
        restoration, and the clips."""
        entries = self.entries()
        return {e.path for e in entries} | {e.before for e in entries if e.before}

    def _read_entries(self) -> list[Entry]:
        entries: list[Entry] = []
        for video_key, video in self._videos.items():
            if video.stem is None:
                continue
            for key, data in video.rows:
                item = self._valid(video_key, key, data, WriteItem)
                if item is not None and is_real_file(self.output_dir, item.path):
                    entries.append(_entry(self.output_dir, video.stem, video_key, item))
            for key, data in video.clip_rows:
                clip = self._valid(video_key, key, data, ClipItem)
                if clip is not None and is_real_file(self.output_dir, clip.path):
                    entries.append(_clip_entry(video.stem, clip))
        entries.sort(key=lambda e: (e.video, e.person_id, e.frame_index, e.kind, e.path))
        return entries

    def _valid(self, video_key: str, key: str, data: str, kind: type[R]) -> R | None:
        """The record ``data`` as ``kind``; None (a WARNING once) when it does not fit."""
        try:
            return kind.model_validate_json(data)
        except ValueError as exc:
            if (video_key, key) not in self._bad:
                self._bad.add((video_key, key))
                log.warning(
                    "%s: a %s record that does not fit, left out (%s)", key, kind.__name__, exc
                )
            return None

    def progress(self) -> list[VideoProgress]:
        """Each video's step under way, its images written of those planned, its clips."""
        result = []
        for video in sorted(self._refresh().values(), key=lambda v: v.stem or ""):
            if video.stem is None:
                continue
            if video.steps.get("manifest"):  # done (a folder from before the clips step too)
                current = "done"
            else:
                current = next((s for s in STEPS if not video.steps.get(s)), "done")
            planned = video.planned if video.steps.get("select") else 0
            result.append(
                VideoProgress(video.stem, current, len(video.rows), planned, len(video.clip_rows))
            )
        return result

    def stems(self) -> list[str]:
        """The output stems of every video with state here."""
        return sorted(v.stem for v in self._refresh().values() if v.stem is not None)


def decision_of(decisions: dict[str, str], path: str) -> str:
    return decisions.get(path, UNREVIEWED)
