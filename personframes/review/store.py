"""Review decisions and people, stored in the output folder's state database.

Two tables beside the pipeline's (which this module only reads):

- ``review_decisions``: an output image's path (relative to OUT) and ``accepted`` or
  ``rejected``; an image without a row is unreviewed. Each change is committed at once.
- ``review_people``: a person (``VIDEO_STEM:ID``, the ids are per video) merged into
  another, and the name given to a person (the name of a merged group is its root's).
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

from ..errors import InputError, StateError
from ..pipeline.state import STATE_DIRNAME, STATE_FILENAME, transaction

Decision = Literal["accepted", "rejected"]
DECISIONS: tuple[Decision, ...] = ("accepted", "rejected")
UNREVIEWED = "unreviewed"
NAME = re.compile(r"^[\w][\w .'-]{0,62}$", re.UNICODE)  # a person's name: one line, no path
PERSON = re.compile(r"^.+:\d+$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_decisions (
    path TEXT PRIMARY KEY,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected')),
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS review_people (
    person TEXT PRIMARY KEY,
    merged_into TEXT,
    name TEXT
);
"""


def person_key(stem: str, person_id: int) -> str:
    """A person across the folder: person ids are counted per video."""
    return f"{stem}:{person_id}"


def state_database(output_dir: Path) -> Path:
    """``OUT/.personframes/state.sqlite``, or InputError when OUT has none."""
    path = output_dir / STATE_DIRNAME / STATE_FILENAME
    if not output_dir.is_dir():
        raise InputError(f"{output_dir}: no such folder")
    if not path.is_file() or path.is_symlink():
        raise InputError(
            f"{output_dir}: not a personframes output folder (no {STATE_DIRNAME}/{STATE_FILENAME});"
            " run personframes extract VIDEO -o this folder first"
        )
    return path


class ReviewStore:
    """Decisions, merges and names of one output folder (a connection of its own).

    ``reading=True`` (export, contact sheets) never writes: a folder never reviewed is
    read as such, without adding the review's tables to its database."""

    def __init__(self, output_dir: Path, wait_s: float = 30.0, reading: bool = False) -> None:
        self.path = state_database(output_dir)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=wait_s, isolation_level=None, check_same_thread=False
            )
            if not reading:
                self._db.executescript(SCHEMA)
            tables = self._db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table'"
                " AND name IN ('review_decisions', 'review_people')"
            ).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: cannot open the state database ({exc})") from exc
        self._reviewed = tables == 2

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """For reading the pipeline's tables (the catalogue)."""
        return self._db

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db, self.path)

    # -- decisions ---------------------------------------------------------
    def decide(self, path: str, decision: str) -> None:
        """Accept, reject or (``unreviewed``) forget the decision on one image."""
        with self._transaction():
            if decision == UNREVIEWED:
                self._db.execute("DELETE FROM review_decisions WHERE path=?", (path,))
            elif decision in DECISIONS:
                self._db.execute(
                    "INSERT OR REPLACE INTO review_decisions (path, decision, updated)"
                    " VALUES (?, ?, ?)",
                    (path, decision, time.time()),
                )
            else:
                raise InputError(f"{decision!r}: not accepted, rejected or unreviewed")

    def decisions(self) -> dict[str, Decision]:
        if not self._reviewed:
            return {}
        rows = self._db.execute("SELECT path, decision FROM review_decisions").fetchall()
        return {str(path): decision for path, decision in rows if decision in DECISIONS}

    def fingerprint(self) -> tuple[object, ...]:
        """Changes with every decision, merge or name (another tab's too)."""
        if not self._reviewed:
            return ()
        decisions = self._db.execute(
            "SELECT count(*), total(updated) FROM review_decisions"
        ).fetchone()
        people = self._db.execute(
            "SELECT group_concat(person || '>' || coalesce(merged_into, '') || '='"
            " || coalesce(name, ''), '|') FROM review_people"
        ).fetchone()
        return (*decisions, *people)

    # -- people ------------------------------------------------------------
    def _people(self) -> dict[str, tuple[str | None, str | None]]:
        if not self._reviewed:
            return {}
        rows = self._db.execute("SELECT person, merged_into, name FROM review_people").fetchall()
        return {str(p): (m, n) for p, m, n in rows}

    def root(self, person: str) -> str:
        """The person a merged one now belongs to (itself when never merged)."""
        people = self._people()
        seen = {person}
        while (parent := people.get(person, (None, None))[0]) is not None and parent not in seen:
            seen.add(parent)
            person = parent
        return person

    def merge(self, source: str, target: str) -> str:
        """Put ``source``'s group into ``target``'s; returns the group's root. The
        group keeps ``target``'s name, or ``source``'s when ``target`` has none."""
        for person in (source, target):
            if not PERSON.match(person):
                raise InputError(f"{person!r} is not a person (VIDEO:ID)")
        with self._transaction():
            source_root, target_root = self.root(source), self.root(target)
            if source_root == target_root:
                return target_root
            names = self.names()
            self._db.execute(
                "INSERT INTO review_people (person, merged_into, name) VALUES (?, ?, NULL)"
                " ON CONFLICT(person) DO UPDATE SET merged_into=excluded.merged_into, name=NULL",
                (source_root, target_root),
            )
            if target_root not in names and source_root in names:
                self._set_name(target_root, names[source_root])
        return target_root

    def split(self, person: str) -> None:
        """Undo a merge: ``person`` (and those merged into it) is a group of its own again."""
        with self._transaction():
            self._db.execute("UPDATE review_people SET merged_into=NULL WHERE person=?", (person,))

    def rename(self, person: str, name: str) -> str:
        """Name ``person``'s group (an empty name removes it); returns the root named."""
        name = name.strip()
        if name and not NAME.match(name):
            raise InputError(
                f"{name!r}: a name is letters, digits, spaces and . ' - _ (up to 63 characters)"
            )
        with self._transaction():
            root = self.root(person)
            self._set_name(root, name or None)
        return root

    def _set_name(self, person: str, name: str | None) -> None:
        self._db.execute(
            "INSERT INTO review_people (person, merged_into, name) VALUES (?, NULL, ?)"
            " ON CONFLICT(person) DO UPDATE SET name=excluded.name",
            (person, name),
        )

    def names(self) -> dict[str, str]:
        """Named group roots -> their names."""
        return {p: n for p, (_, n) in self._people().items() if n}

    def groups(self, people: set[str]) -> dict[str, str]:
        """Each of ``people`` -> the root of its group."""
        return {person: self.root(person) for person in people}
