"""What an output folder holds, read from its state database.

The write step commits each image's record as soon as the file is in place, so reading
the database (rather than the ``VIDEO_info.json`` files, written once a video is done)
shows the images of a running ``extract`` as they appear. Only the pipeline's own
tables are read here; decisions and people come from :mod:`.store`.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline.records import WriteItem
from ..pipeline.restored import before_path
from .store import UNREVIEWED, ReviewStore, person_key

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


def real_file(output_dir: Path, relative: str) -> bool:
    """``relative`` (with "/") is a regular file inside ``output_dir`` reached through no
    symbolic link: what the gallery may show and an export may take."""
    current = output_dir
    for part in relative.split("/"):
        if part in ("", ".", ".."):
            return False
        current = current / part
        if current.is_symlink():
            return False
    return current.is_file()


def _entry(output_dir: Path, stem: str, video_key: str, item: WriteItem) -> Entry:
    before = None
    if item.before is not None:
        candidate = before_path(video_key, item.file)
        if real_file(output_dir, candidate):
            before = candidate
    restoration = item.restoration or {}
    details: dict[str, Any] = {"quality": dict(item.quality)}
    if restoration:
        details["restoration"] = {
            k: restoration.get(k)
            for k in ("model", "decision", "reason", "engine", "precision", "identity_distance")
        }
    overall = item.quality.get("overall")
    return Entry(
        path=item.path,
        video=stem,
        kind=item.kind,
        person=person_key(stem, item.person_id),
        person_id=item.person_id,
        pose=item.pose,
        head=item.head_direction,
        shot=item.shot_type,
        quality=None if overall is None else float(overall),
        size=(int(item.size[0]), int(item.size[1])),
        frame_index=item.frame_index,
        reason=item.reason,
        details=details,
        before=before,
    )


class Catalog:
    """The images of one output folder and the progress of its videos."""

    def __init__(self, output_dir: Path, store: ReviewStore) -> None:
        self.output_dir = output_dir
        self._db: sqlite3.Connection = store.connection
        self._bad: set[tuple[str, str]] = set()
        self._cached: tuple[tuple[Any, ...], list[Entry]] | None = None

    def _stems(self) -> dict[str, str]:
        return {
            str(key): str(stem)
            for stem, key in self._db.execute("SELECT stem, video_key FROM names").fetchall()
        }

    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever an image is written or a step moves on (cheap to poll)."""
        records = self._db.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM records WHERE step='write'"
        ).fetchone()
        steps = self._db.execute(
            "SELECT count(*), coalesce(sum(done), 0), coalesce(sum(progress), 0) FROM steps"
        ).fetchone()
        return (*records, *steps)

    def entries(self) -> list[Entry]:
        """Every image written so far whose file is still there, in video and frame order
        (read again when the database changed)."""
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
        stems = self._stems()
        rows = self._db.execute(
            "SELECT video_key, key, data FROM records WHERE step='write' ORDER BY video_key, seq"
        ).fetchall()
        entries: list[Entry] = []
        for video_key, key, data in rows:
            stem = stems.get(video_key)
            if stem is None:
                continue
            try:
                item = WriteItem.model_validate_json(data)
            except ValueError as exc:
                if (video_key, key) not in self._bad:
                    self._bad.add((video_key, key))
                    log.warning("%s: a write record that does not fit, left out (%s)", key, exc)
                continue
            if real_file(self.output_dir, item.path):
                entries.append(_entry(self.output_dir, stem, video_key, item))
        entries.sort(key=lambda e: (e.video, e.person_id, e.frame_index, e.kind, e.path))
        return entries

    def progress(self) -> list[VideoProgress]:
        """Each video's step under way and its images written of those planned."""
        stems = self._stems()
        steps: dict[str, dict[str, bool]] = {}
        for key, step, done in self._db.execute("SELECT video_key, step, done FROM steps"):
            steps.setdefault(str(key), {})[str(step)] = bool(done)
        counts: dict[tuple[str, str], int] = {}
        for key, step, count in self._db.execute(
            "SELECT video_key, step, count(*) FROM records WHERE key NOT LIKE '~%'"
            " AND step IN ('select', 'write') GROUP BY video_key, step"
        ):
            counts[(str(key), str(step))] = int(count)
        result = []
        for key, stem in sorted(stems.items(), key=lambda kv: kv[1]):
            done = steps.get(key, {})
            current = next((s for s in STEPS if not done.get(s)), "done")
            planned = counts.get((key, "select"), 0) if done.get("select") else 0
            result.append(VideoProgress(stem, current, counts.get((key, "write"), 0), planned))
        return result


def decision_of(decisions: dict[str, str], path: str) -> str:
    return decisions.get(path, UNREVIEWED)
