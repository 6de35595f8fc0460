"""The pipeline's state store: one SQLite database (WAL mode) per output directory.

Only the pipeline runner and its steps touch it. Rows are keyed by the
video's content hash, so a renamed or moved video is still recognised and a
changed file is treated as new.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DiskFullError, InputError, OutputError, ProcessingError

STATE_DIRNAME = ".personframes"
LOCK_WAIT_S = 60.0  # how long to wait for another process holding the database
SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (
    video_key TEXT NOT NULL,
    step TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    progress INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (video_key, step)
);
CREATE TABLE IF NOT EXISTS records (
    video_key TEXT NOT NULL,
    step TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (video_key, step, key)
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    video_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS videos (
    video_key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '{}'
);
"""


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes (first 32 hex digits)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:32]


def _open(path: Path, wait_s: float = LOCK_WAIT_S) -> sqlite3.Connection:
    """Connect and set up, waiting while another process does the same.

    Switching a new database to WAL takes an exclusive lock, and SQLite answers
    "database is locked" at once (without its busy timeout) to a second process
    doing it at the same moment, as ``--workers`` does on a new output folder.
    """
    deadline = time.monotonic() + wait_s
    while True:
        db = sqlite3.connect(path, timeout=wait_s, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class StateStore:
    """Progress and intermediate results of every video processed into one folder."""

    def __init__(self, output_dir: Path) -> None:
        folder = output_dir / STATE_DIRNAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = _open(folder / "state.sqlite")
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"{folder}: cannot open the state database ({exc})") from exc
        self.folder = folder

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; a full disk becomes DiskFullError and leaves the last commit intact."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "full" in str(exc):
                raise DiskFullError(
                    f"{self.folder}: no space left for the state database; free space and rerun"
                ) from exc
            raise ProcessingError(f"{self.folder}: state database error ({exc})") from exc

    # -- steps -------------------------------------------------------------
    def step(self, video_key: str, step: str) -> tuple[str, bool, int] | None:
        row = self._db.execute(
            "SELECT config_hash, done, progress FROM steps WHERE video_key=? AND step=?",
            (video_key, step),
        ).fetchone()
        return None if row is None else (row[0], bool(row[1]), int(row[2]))

    def reset_step(self, video_key: str, step: str, config_hash: str) -> None:
        """Forget a step's progress and records; start it under ``config_hash``."""
        with self.transaction():
            self._db.execute("DELETE FROM records WHERE video_key=? AND step=?", (video_key, step))
            self._db.execute(
                "INSERT OR REPLACE INTO steps (video_key, step, config_hash, done, progress)"
                " VALUES (?, ?, ?, 0, -1)",
                (video_key, step, config_hash),
            )

    def forget_video(self, video_key: str) -> None:
        with self.transaction():
            for table in ("records", "steps", "videos"):
                self._db.execute(f"DELETE FROM {table} WHERE video_key=?", (video_key,))

    def commit_progress(
        self,
        video_key: str,
        step: str,
        progress: int,
        records: list[tuple[str, int, Any]],
        done: bool = False,
    ) -> None:
        """Store ``records`` (key, seq, json data) and the step's progress atomically."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO records (video_key, step, key, seq, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [(video_key, step, key, seq, json.dumps(data)) for key, seq, data in records],
            )
            self._db.execute(
                "UPDATE steps SET progress=?, done=? WHERE video_key=? AND step=?",
                (progress, int(done), video_key, step),
            )

    def records(self, video_key: str, step: str) -> list[Any]:
        rows = self._db.execute(
            "SELECT data FROM records WHERE video_key=? AND step=? ORDER BY seq, key",
            (video_key, step),
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def record_keys(self, video_key: str, step: str) -> set[str]:
        rows = self._db.execute(
            "SELECT key FROM records WHERE video_key=? AND step=?", (video_key, step)
        ).fetchall()
        return {row[0] for row in rows}

    # -- videos ------------------------------------------------------------
    def video_key(self, path: Path, remembered: bool = True) -> str:
        """The video's content hash, remembered with its path, size and modification
        time: a rerun over unchanged files does not read them again (``remembered=False``
        reads the file regardless)."""
        try:
            stat = path.stat()
            where = str(path.resolve())
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        row = self._db.execute(
            "SELECT video_key FROM files WHERE path=? AND size=? AND mtime_ns=?",
            (where, stat.st_size, stat.st_mtime_ns),
        ).fetchone()
        if row is not None and remembered:
            return str(row[0])
        key = content_hash(path)
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, video_key) VALUES (?,?,?,?)",
                (where, stat.st_size, stat.st_mtime_ns, key),
            )
        return key

    def set_video(self, video_key: str, path: Path, status: str, summary: Any = None) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO videos (video_key, path, status, summary) VALUES (?,?,?,?)",
                (video_key, str(path), status, json.dumps(summary or {})),
            )

    def video_status(self, video_key: str) -> str | None:
        row = self._db.execute(
            "SELECT status FROM videos WHERE video_key=?", (video_key,)
        ).fetchone()
        return None if row is None else str(row[0])
