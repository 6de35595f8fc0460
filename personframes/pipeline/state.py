"""The pipeline's state store: one SQLite database (WAL mode) per output directory.

Only the pipeline runner and its steps touch it. Rows are keyed by the
video's content hash, so a renamed or moved video is still recognised and a
changed file is treated as new.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from ..errors import DiskFullError, InputError, OutputError, ProcessingError, StateError
from ..output.naming import safe_stem
from ..output.writer import write_text
from .records import Record, check_video_records

R = TypeVar("R", bound=Record)

STATE_DIRNAME = ".personframes"
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
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    video_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS names (
    stem TEXT PRIMARY KEY,
    folded TEXT NOT NULL UNIQUE,
    video_key TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL
);
"""
TABLES = {
    "steps": ("video_key", "step", "config_hash", "done", "progress"),
    "records": ("video_key", "step", "key", "seq", "data"),
    "files": ("path", "size", "mtime_ns", "video_key"),
    "names": ("stem", "folded", "video_key", "path"),
}


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


def require_real_folder(path: Path, what_to_do: str) -> Path:
    """``path`` when it is a real folder or absent; OutputError when it is a symbolic link
    (which would send writes and clean-up elsewhere) or a file."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputError(f"{path}: is a link or a file, not a folder; {what_to_do}")
    return path


def state_folder(output_dir: Path) -> Path:
    """``OUT/.personframes``, refused when it is anything but a real folder (or absent)."""
    return require_real_folder(
        output_dir / STATE_DIRNAME,
        "personframes keeps its state in a real folder there. Remove it, or choose another "
        "output folder",
    )


class StateStore:
    """Progress and intermediate results of every video processed into one folder."""

    def __init__(self, output_dir: Path) -> None:
        folder = state_folder(output_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = _open(folder / STATE_FILENAME)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged schema
            if isinstance(exc, sqlite3.OperationalError):
                raise OutputError(f"{folder}: cannot open the state database ({exc})") from exc
            raise StateError(f"{folder / STATE_FILENAME}: not a state database ({exc})") from exc
        except OSError as exc:
            raise OutputError(f"{folder}: cannot open the state database ({exc})") from exc
        self.folder = folder

    def check(self) -> None:
        """Raise StateError naming the first sign that this database is not as this
        program leaves it: damaged pages, changed tables, records that do not parse,
        or stored output names that are not plain file names in the output folder."""
        where = self.folder / STATE_FILENAME
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
            done = self._db.execute("SELECT video_key, step FROM steps WHERE done=1").fetchall()
            rows = self._db.execute(
                "SELECT video_key, step, key, data FROM records ORDER BY video_key"
            ).fetchall()
            keys = {
                row[0]
                for table in TABLES
                for row in self._db.execute(f"SELECT DISTINCT video_key FROM {table}")
            }
            stems = [row[0] for row in self._db.execute("SELECT stem FROM names")]
            for table in TABLES:  # every value decodes (text stored as UTF-8)
                self._db.execute(f"SELECT * FROM {table}").fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise StateError(f"{where}: unreadable ({exc})") from exc
        for key in keys:
            if not isinstance(key, str) or not VIDEO_KEY.match(key):
                raise StateError(f"{where}: {key!r} is not a video key")
        for stem in stems:
            if not isinstance(stem, str) or safe_stem(stem) != stem:
                raise StateError(f"{where}: {stem!r} is not an output name")
        for video, records in itertools.groupby(rows, key=lambda row: row[0]):
            finished = {step for key, step in done if key == video}
            problem = check_video_records((row[1:] for row in records), finished)
            if problem is not None:
                raise StateError(f"{where}: {problem}")

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db, self.folder)

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
            for table in ("records", "steps"):
                self._db.execute(f"DELETE FROM {table} WHERE video_key=?", (video_key,))

    def commit_progress(
        self,
        video_key: str,
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
                [(video_key, step, key, seq, data.to_json()) for key, seq, data in records],
            )
            self._db.execute(
                "UPDATE steps SET progress=?, done=? WHERE video_key=? AND step=?",
                (progress, int(done), video_key, step),
            )

    def delete_records(self, video_key: str, step: str, keys: set[str]) -> None:
        with self.transaction():
            self._db.executemany(
                "DELETE FROM records WHERE video_key=? AND step=? AND key=?",
                [(video_key, step, key) for key in keys],
            )

    def load(self, video_key: str, step: str, model: type[R], key: str | None = None) -> list[R]:
        """The step's records in order, as ``model``: every one but the summary records
        (keys starting with ``~``), or (``key``) only that one."""
        if key is None:
            rows = self._db.execute(
                "SELECT data FROM records WHERE video_key=? AND step=? AND key NOT LIKE '~%'"
                " ORDER BY seq, key",
                (video_key, step),
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT data FROM records WHERE video_key=? AND step=? AND key=?",
                (video_key, step, key),
            ).fetchall()
        try:
            return [model.model_validate_json(row[0]) for row in rows]
        except ValueError as exc:  # checked when the run started: altered since
            raise StateError(
                f"{self.folder / STATE_FILENAME}: a {step} record changed ({exc})"
            ) from None

    def load_one(self, video_key: str, step: str, key: str, model: type[R]) -> R:
        """The record stored under ``key`` (StateError when it is missing)."""
        found = self.load(video_key, step, model, key)
        if not found:
            raise StateError(
                f"{self.folder / STATE_FILENAME}: the {step} record {key!r} is missing"
            )
        return found[0]

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

    def claim_stem(self, video_key: str, path: Path, wanted: str) -> str:
        """The name this video's outputs start with in this folder, the same on every run.

        A video keeps the stem it first got (found by content, then by path). A new video
        whose stem another video holds (``a/clip.mp4`` and ``b/clip.mp4``, or
        ``clip.mp4`` and ``clip.mov``) gets ``clip-2``, ``clip-3``...; names are compared
        case-folded, as a case-insensitive file system would.
        """
        where = str(path.resolve())
        with self.transaction():
            row = self._db.execute(
                "SELECT stem FROM names WHERE video_key=?", (video_key,)
            ).fetchone()
            if row is None:
                row = self._db.execute("SELECT stem FROM names WHERE path=?", (where,)).fetchone()
                if row is not None:  # the file at this path changed: it keeps the name
                    self._db.execute(
                        "UPDATE names SET video_key=? WHERE stem=?", (video_key, row[0])
                    )
            if row is not None:
                return str(row[0])
            stem, number = wanted, 1
            while self._db.execute(
                "SELECT 1 FROM names WHERE folded=?", (stem.casefold(),)
            ).fetchone():
                number += 1
                stem = f"{wanted}-{number}"
            self._db.execute(
                "INSERT INTO names (stem, folded, video_key, path) VALUES (?,?,?,?)",
                (stem, stem.casefold(), video_key, where),
            )
            return stem

    def videos_with_state(self) -> set[str]:
        """The keys of every video with any progress stored."""
        rows = self._db.execute("SELECT DISTINCT video_key FROM steps")
        return {str(row[0]) for row in rows}

    def holder_of(self, stem: str) -> str | None:
        """The path of the video that holds ``stem`` here, if any."""
        row = self._db.execute(
            "SELECT path FROM names WHERE folded=?", (stem.casefold(),)
        ).fetchone()
        return None if row is None else str(row[0])


def set_aside(output_dir: Path, reason: str) -> Path:
    """Rename the state database (and its journal files) out of the way, never deleting
    it; return its new name. The next StateStore starts an empty one."""
    folder = output_dir / STATE_DIRNAME
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{STATE_FILENAME}.invalid-{stamp}"
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{STATE_FILENAME}.invalid-{stamp}-{number}"
    for suffix in ("-wal", "-shm", ""):
        source = folder / f"{STATE_FILENAME}{suffix}"
        if source.exists():
            source.rename(f"{target}{suffix}")
    write_text(folder / f"{target.name}.reason.txt", reason + "\n")
    return target
