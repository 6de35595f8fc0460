"""Moving an earlier version's state (one ``OUT/.personframes/state.sqlite`` for the
folder) into this version's layout: a database per video, names and the path cache as
files (:mod:`.index`), the review in ``review.sqlite``. The old file is renamed
``state.sqlite.migrated-STAMP``, never deleted; one that cannot be read is set aside
as before, with a WARNING, and its videos are processed afresh."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from ..output.safe_paths import make_folders, sqlite_uri
from ..output.writer import write_json
from .index import NAMES_DIRNAME, PATHS_DIRNAME, VIDEO_FILENAME, path_hash
from .review import REVIEW_FILENAME
from .review import SCHEMA as REVIEW_SCHEMA
from .video import (
    STATE_FILENAME,
    TABLES,
    VIDEO_KEY,
    VideoState,
    open_database,
    set_aside,
    state_folder,
    video_folder,
)

log = logging.getLogger(__name__)


def _rows(db: sqlite3.Connection, table: str, columns: str) -> list[tuple[object, ...]]:
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    return db.execute(f"SELECT {columns} FROM {table}").fetchall() if exists else []


def migrate_single_database(output_dir: Path) -> None:
    """Split ``OUT/.personframes/state.sqlite`` into this version's files (call it
    holding the folder's lock exclusively)."""
    folder = state_folder(output_dir)
    old = folder / STATE_FILENAME
    try:
        db = sqlite3.connect(sqlite_uri(output_dir, old, "ro"), uri=True, isolation_level=None)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise sqlite3.DatabaseError(f"damaged ({verdict[0] if verdict else 'no answer'})")
            tables = {t: _rows(db, t, ", ".join(c)) for t, c in TABLES.items()}
            names = _rows(db, "names", "stem, video_key, path")
            files = _rows(db, "files", "path, size, mtime_ns, video_key")
            decisions = _rows(db, "review_decisions", "path, decision, updated")
            people = _rows(db, "review_people", "person, merged_into, name")
        finally:
            db.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        moved = set_aside(old, f"{old}: unreadable ({exc})")
        log.warning(
            "state database of an earlier version failed its check (%s); set aside as %s, "
            "and the videos in %s are processed afresh",
            exc,
            moved.name,
            output_dir,
        )
        return
    keys = {row[0] for rows in tables.values() for row in rows}
    for key in sorted(k for k in keys if isinstance(k, str) and VIDEO_KEY.match(k)):
        store = VideoState(output_dir, key)
        try:
            if store.steps_done():  # already this version's (a migration cut short)
                continue
            store.replace_rows({t: [r for r in rows if r[0] == key] for t, rows in tables.items()})
        finally:
            store.close()
    for stem, holder, where in names:
        if isinstance(holder, str) and VIDEO_KEY.match(holder) and isinstance(stem, str):
            make_folders(output_dir, folder / NAMES_DIRNAME)
            claim = {"stem": stem, "video_key": holder, "path": where}
            write_json(folder / NAMES_DIRNAME / f"{stem.casefold()}.json", claim)
            own = video_folder(output_dir, holder)
            make_folders(output_dir, own)
            write_json(own / VIDEO_FILENAME, {"stem": stem, "path": where})
    for where, size, mtime_ns, holder in files:
        if isinstance(where, str) and isinstance(holder, str) and VIDEO_KEY.match(holder):
            make_folders(output_dir, folder / PATHS_DIRNAME)
            entry = {"path": where, "size": size, "mtime_ns": mtime_ns, "video_key": holder}
            write_json(folder / PATHS_DIRNAME / f"{path_hash(where)}.json", entry)
    if decisions or people:
        review = open_database(folder / REVIEW_FILENAME, REVIEW_SCHEMA, inside=output_dir)
        try:
            for table, rows in (("review_decisions", decisions), ("review_people", people)):
                review.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", rows)
        finally:
            review.close()
    target = old.with_name(f"{STATE_FILENAME}.migrated-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("-journal", "-wal", "-shm", ""):
        source = old.with_name(f"{STATE_FILENAME}{suffix}")
        if source.exists():
            source.rename(f"{target}{suffix}")
    log.info(
        "%s: state of %d videos moved to a database per video; the old file is kept as %s",
        output_dir,
        len(keys),
        target.name,
    )
