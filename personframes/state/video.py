"""The pipeline's state: one SQLite database per video and output folder.

Only the pipeline runner and its steps write it. A video is known by its content hash
(its key), so a renamed or moved video is still recognised and a changed file is
treated as new. What the folder's videos share (names, the path -> key cache) is kept
in small files beside them (:mod:`.index`), so no database is shared by processes.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from ..errors import DiskFullError, OutputError, ProcessingError, StateError
from ..hashing import sha256_file
from ..output.safe_paths import (
    make_folders,
    real_file,
    real_folders,
    require_real_folder,
    sqlite_uri,
)
from ..output.writer import write_text
from .records import Record, check_video_records

R = TypeVar("R", bound=Record)

STATE_DIRNAME = ".personframes"
VIDEOS_DIRNAME = "videos"  # OUT/.personframes/videos/KEY/: one video's state
STATE_FILENAME = "state.sqlite"
VIDEO_KEY = re.compile(r"^[0-9a-f]{32}$")  # content_hash(): it names lock and cache files
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
"""
TABLES = {
    "steps": ("video_key", "step", "config_hash", "done", "progress"),
    "records": ("video_key", "step", "key", "seq", "data"),
}


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (first 32 hex digits): a video's key."""
    return sha256_file(path)[:32]


def open_database(
    path: Path, schema: str, wait_s: float = LOCK_WAIT_S, *, inside: Path
) -> sqlite3.Connection:
    """Connect and set up ``schema``, in rollback-journal mode. ``path`` lies below the
    output folder ``inside``: a link on the way or in place of the database or its
    journal is refused (OutputError), never followed.

    Not WAL: WAL needs memory shared by every process using the file, which processes
    on different hosts of a shared file system (shards, Ray) do not have; a rollback
    journal needs only the file locks such a file system provides. Each database is
    written by one process at a time (the holder of its video's lock, or the gallery).
    """
    deadline = time.monotonic() + wait_s
    while True:
        db = sqlite3.connect(
            sqlite_uri(inside, path, "rwc"),
            uri=True,
            timeout=wait_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(schema)
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(db: sqlite3.Connection, where: Path) -> Iterator[None]:
    """All or nothing; a full disk becomes DiskFullError and leaves the last commit intact."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError as exc:
        if "full" in str(exc):
            raise DiskFullError(
                f"{where}: no space left for the state database; free space and rerun"
            ) from exc
        raise ProcessingError(f"{where}: state database error ({exc})") from exc


def state_folder(output_dir: Path) -> Path:
    """``OUT/.personframes``, refused when it is anything but a real folder (or absent)."""
    return require_real_folder(
        output_dir / STATE_DIRNAME,
        "personframes keeps its state in a real folder there. Remove it, or choose another "
        "output folder",
    )


def video_folder(output_dir: Path, video_key: str) -> Path:
    """``OUT/.personframes/videos/KEY``: where one video's state database lives."""
    return output_dir / STATE_DIRNAME / VIDEOS_DIRNAME / video_key


class VideoState:
    """Progress and intermediate results of one video processed into one folder, in a
    database of its own (``OUT/.personframes/videos/KEY/state.sqlite``): written only by
    the process holding that video's lock, so no database is ever written from two hosts.
    ``create=False`` opens an existing one (StateError when there is none)."""

    def __init__(self, output_dir: Path, video_key: str, create: bool = True) -> None:
        if not VIDEO_KEY.match(video_key):
            raise StateError(f"{video_key!r} is not a video key")
        self.folder = state_folder(output_dir)
        self.video_key = video_key
        own = video_folder(output_dir, video_key)
        self.path = own / STATE_FILENAME
        keeps = "personframes keeps its state there: remove it"
        try:
            real_folders(output_dir, own, keeps)
            if not create and not real_file(output_dir, self.path, keeps).is_file():
                raise StateError(f"{self.path}: no such state database")
            make_folders(output_dir, own, keeps)
            self._db = open_database(self.path, SCHEMA, inside=output_dir)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged schema
            if isinstance(exc, sqlite3.OperationalError):
                raise OutputError(f"{own}: cannot open the state database ({exc})") from exc
            raise StateError(f"{self.path}: not a state database ({exc})") from exc
        except OSError as exc:
            raise OutputError(f"{own}: cannot open the state database ({exc})") from exc

    def check(self) -> None:
        """Raise StateError naming the first sign that this database is not as this
        program leaves it: damaged pages, changed tables, rows of another video, records
        that do not parse or do not refer to each other as they must."""
        where = self.path
        try:
            verdict = self._db.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise StateError(f"{where}: damaged ({verdict[0] if verdict else 'no answer'})")
            for table, columns in TABLES.items():
                found = tuple(r[1] for r in self._db.execute(f"PRAGMA table_info({table})"))
                if found != columns:
                    raise StateError(f"{where}: table {table} has columns {found}")
            bad_steps = self._db.execute(
                "SELECT step FROM steps WHERE typeof(progress) != 'integer'"
                " OR done NOT IN (0, 1) OR typeof(config_hash) != 'text'"
                " OR typeof(step) != 'text'"
            ).fetchone()
            if bad_steps is not None:
                raise StateError(f"{where}: step {bad_steps[0]!r} has values of the wrong type")
            done = {row[0] for row in self._db.execute("SELECT step FROM steps WHERE done=1")}
            rows = self._db.execute("SELECT step, key, data FROM records").fetchall()
            keys = {
                row[0]
                for table in TABLES
                for row in self._db.execute(f"SELECT DISTINCT video_key FROM {table}")
            }
            for table in TABLES:  # every value decodes (text stored as UTF-8)
                self._db.execute(f"SELECT * FROM {table}").fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise StateError(f"{where}: unreadable ({exc})") from exc
        for key in keys:
            if key != self.video_key:
                raise StateError(f"{where}: rows of {key!r}, not of video {self.video_key}")
        problem = check_video_records(rows, done)
        if problem is not None:
            raise StateError(f"{where}: {problem}")

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db, self.path.parent)

    def replace_rows(self, rows: dict[str, list[tuple[object, ...]]]) -> None:
        """Replace every row with ``rows`` (table -> rows in TABLES' column order)."""
        with self.transaction():
            for table, columns in TABLES.items():
                self._db.execute(f"DELETE FROM {table}")
                marks = ", ".join("?" * len(columns))
                self._db.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    rows.get(table, []),
                )

    def fingerprint(self) -> tuple[int, ...]:
        """Changes whenever a step moves on or a record is stored (cheap to poll)."""
        records = self._db.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM records"
        ).fetchone()
        steps = self._db.execute(
            "SELECT count(*), coalesce(sum(done), 0), coalesce(sum(progress), 0) FROM steps"
        ).fetchone()
        return (*records, *steps)

    # -- steps -------------------------------------------------------------
    def step(self, step: str) -> tuple[str, bool, int] | None:
        row = self._db.execute(
            "SELECT config_hash, done, progress FROM steps WHERE video_key=? AND step=?",
            (self.video_key, step),
        ).fetchone()
        return None if row is None else (row[0], bool(row[1]), int(row[2]))

    def steps_done(self) -> dict[str, bool]:
        rows = self._db.execute("SELECT step, done FROM steps").fetchall()
        return {str(step): bool(done) for step, done in rows}

    def reset_step(self, step: str, config_hash: str) -> None:
        """Forget a step's progress and records; start it under ``config_hash``."""
        with self.transaction():
            self._db.execute(
                "DELETE FROM records WHERE video_key=? AND step=?", (self.video_key, step)
            )
            self._db.execute(
                "INSERT OR REPLACE INTO steps (video_key, step, config_hash, done, progress)"
                " VALUES (?, ?, ?, 0, -1)",
                (self.video_key, step, config_hash),
            )

    def forget(self) -> None:
        with self.transaction():
            for table in TABLES:
                self._db.execute(f"DELETE FROM {table}")

    def commit_progress(
        self,
        step: str,
        progress: int,
        records: Sequence[tuple[str, int, Record]],
        done: bool = False,
    ) -> None:
        """Store ``records`` (key, seq, record) and the step's progress atomically."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO records (video_key, step, key, seq, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [(self.video_key, step, key, seq, data.to_json()) for key, seq, data in records],
            )
            self._db.execute(
                "UPDATE steps SET progress=?, done=? WHERE video_key=? AND step=?",
                (progress, int(done), self.video_key, step),
            )

    def delete_records(self, step: str, keys: set[str]) -> None:
        with self.transaction():
            self._db.executemany(
                "DELETE FROM records WHERE video_key=? AND step=? AND key=?",
                [(self.video_key, step, key) for key in keys],
            )

    def rows(self, step: str) -> list[tuple[str, str]]:
        """(key, JSON) of the step's records but the summary ones, in order, unparsed."""
        rows = self._db.execute(
            "SELECT key, data FROM records WHERE step=? AND key NOT LIKE '~%' ORDER BY seq, key",
            (step,),
        ).fetchall()
        return [(str(key), str(data)) for key, data in rows]

    def count(self, step: str) -> int:
        """How many records (but the summary ones) ``step`` has stored."""
        row = self._db.execute(
            "SELECT count(*) FROM records WHERE step=? AND key NOT LIKE '~%'", (step,)
        ).fetchone()
        return int(row[0])

    def load(self, step: str, model: type[R], key: str | None = None) -> list[R]:
        """The step's records in order, as ``model``: every one but the summary records
        (keys starting with ``~``), or (``key``) only that one."""
        if key is None:
            data = [row[1] for row in self.rows(step)]
        else:
            data = [
                row[0]
                for row in self._db.execute(
                    "SELECT data FROM records WHERE video_key=? AND step=? AND key=?",
                    (self.video_key, step, key),
                )
            ]
        try:
            return [model.model_validate_json(item) for item in data]
        except ValueError as exc:  # checked when the run started: altered since
            raise StateError(f"{self.path}: a {step} record changed ({exc})") from None

    def load_one(self, step: str, key: str, model: type[R]) -> R:
        """The record stored under ``key`` (StateError when it is missing)."""
        found = self.load(step, model, key)
        if not found:
            raise StateError(f"{self.path}: the {step} record {key!r} is missing")
        return found[0]

    def record_keys(self, step: str) -> set[str]:
        rows = self._db.execute(
            "SELECT key FROM records WHERE video_key=? AND step=?", (self.video_key, step)
        ).fetchall()
        return {row[0] for row in rows}


def set_aside(database: Path, reason: str) -> Path:
    """Rename a state database (and its journal) out of the way, never deleting it;
    return its new name. The next one opened there starts empty."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = database.with_name(f"{database.name}.invalid-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = database.with_name(f"{database.name}.invalid-{stamp}-{number}")
    for suffix in ("-journal", "-wal", "-shm", ""):
        source = database.with_name(f"{database.name}{suffix}")
        if source.exists():
            source.rename(f"{target}{suffix}")
    write_text(target.with_name(f"{target.name}.reason.txt"), reason + "\n")
    return target
