"""Review decisions and people, stored in ``OUT/.personframes/review.sqlite`` (written
only by the gallery; the pipeline and export read it).

Two tables:

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
from ..output.safe_paths import make_folders, real_file, sqlite_uri
from .index import has_state
from .video import (
    STATE_DIRNAME,
    STATE_FILENAME,
    open_database,
    state_folder,
    transaction,
)

Decision = Literal["accepted", "rejected"]
DECISIONS: tuple[Decision, ...] = ("accepted", "rejected")
UNREVIEWED = "unreviewed"
REVIEW_FILENAME = "review.sqlite"
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


def check_output_folder(output_dir: Path) -> None:
    """InputError unless ``output_dir`` is a folder ``extract`` wrote into."""
    if not output_dir.is_dir():
        raise InputError(f"{output_dir}: no such folder")
    if not has_state(output_dir):
        raise InputError(
            f"{output_dir}: not a personframes output folder (no {STATE_DIRNAME}/ state);"
            " run personframes extract VIDEO -o this folder first"
        )
    if (output_dir / STATE_DIRNAME / STATE_FILENAME).is_file():
        raise InputError(
            f"{output_dir}: its state is an earlier personframes version's; run "
            "personframes summary on it once to bring it up to date"
        )


class ReviewStore:
    """Decisions, merges and names of one output folder (a connection of its own).

    ``reading=True`` (extract, export, contact sheets) never writes: a folder never
    reviewed is read as such, without creating the review's database."""

    def __init__(self, output_dir: Path, wait_s: float = 30.0, reading: bool = False) -> None:
        self.path = state_folder(output_dir) / REVIEW_FILENAME
        self._db: sqlite3.Connection | None = None
        # A link in its place (or its journal's) is refused, never followed: OutputError.
        if reading and not real_file(output_dir, self.path).is_file():
            return
        try:
            if reading:
                self._db = sqlite3.connect(
                    sqlite_uri(output_dir, self.path, "rw"),
                    uri=True,
                    timeout=wait_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self._writer.execute("SELECT count(*) FROM review_decisions, review_people LIMIT 1")
            else:
                make_folders(output_dir, self.path.parent)
                self._db = open_database(self.path, SCHEMA, wait_s, inside=output_dir)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: cannot open the review database ({exc})") from exc
        except OSError as exc:
            raise StateError(f"{self.path}: cannot open the review database ({exc})") from exc

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _writer(self) -> sqlite3.Connection:
        if self._db is None:
            raise StateError(f"{self.path}: opened for reading")
        return self._db

    def _rows(self, query: str) -> list[tuple[object, ...]]:
        return [] if self._db is None else self._db.execute(query).fetchall()

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._writer, self.path)

    # -- decisions ---------------------------------------------------------
    def decide(self, path: str, decision: str) -> None:
        """Accept, reject or (``unreviewed``) forget the decision on one image."""
        with self._transaction():
            if decision == UNREVIEWED:
                self._writer.execute("DELETE FROM review_decisions WHERE path=?", (path,))
            elif decision in DECISIONS:
                self._writer.execute(
                    "INSERT OR REPLACE INTO review_decisions (path, decision, updated)"
                    " VALUES (?, ?, ?)",
                    (path, decision, time.time()),
                )
            else:
                raise InputError(f"{decision!r}: not accepted, rejected or unreviewed")

    def decisions(self) -> dict[str, Decision]:
        rows = self._rows("SELECT path, decision FROM review_decisions")
        return {str(path): decision for path, decision in rows if decision in DECISIONS}

    def fingerprint(self) -> tuple[object, ...]:
        """Changes with every decision, merge or name (another tab's too)."""
        decisions = self._rows("SELECT count(*), total(updated) FROM review_decisions")
        people = self._rows(
            "SELECT group_concat(person || '>' || coalesce(merged_into, '') || '='"
            " || coalesce(name, ''), '|') FROM review_people"
        )
        return (*decisions, *people)

    # -- people ------------------------------------------------------------
    def _people(self) -> dict[str, tuple[str | None, str | None]]:
        rows = self._rows("SELECT person, merged_into, name FROM review_people")
        return {str(p): (m, n) for p, m, n in rows}  # type: ignore[misc]

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
            self._writer.execute(
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
            self._writer.execute(
                "UPDATE review_people SET merged_into=NULL WHERE person=?", (person,)
            )

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
        self._writer.execute(
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
