"""The export folder: files written atomically, copied or hard-linked, and a record of
what the last export wrote there (each file's SHA-256 and size), so that a rerun
rewrites only what changed and removes only its own files that are no longer chosen.

The record is trusted only for files that still match it: a file changed since export
wrote it (a caption edited by hand), or listed in the record without matching it (a
record edited to name a file export never wrote), is never removed, and is replaced
only with ``overwrite_edited``; each is said in one WARNING and counted. A file the
record does not list is never overwritten or removed."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import OutputError
from ..output.naming import is_plain_file_name
from ..output.safe_paths import is_real_file
from ..output.writer import TEMP_PREFIX, atomic_write_bytes, write_json
from ..state.video import require_real_folder

log = logging.getLogger(__name__)

RECORD = ".personframes-export.json"
RECORD_VERSION = 2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
SHOWN = 5  # file names a WARNING lists


@dataclass(frozen=True)
class Content:
    """A file's content as the record keeps it."""

    sha256: str
    size: int

    @classmethod
    def of_bytes(cls, data: bytes) -> Content:
        return cls(hashlib.sha256(data).hexdigest(), len(data))

    @classmethod
    def of_file(cls, path: Path) -> Content:
        """``path``'s content, opened without following a link."""
        digest = hashlib.sha256()
        size = 0
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return cls(digest.hexdigest(), size)

    @classmethod
    def parse(cls, value: object) -> Content | None:
        """A record's entry, or None when it is not one this module writes."""
        if not isinstance(value, dict):
            return None
        sha256, size = value.get("sha256"), value.get("size")
        if not (isinstance(sha256, str) and _SHA256.match(sha256)):
            return None
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            return None
        return cls(sha256, size)

    def to_json(self) -> dict[str, object]:
        return {"sha256": self.sha256, "size": self.size}


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _valid(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return bool(parts) and all(is_plain_file_name(p) for p in parts) and relative != RECORD


def _listing(paths: list[str]) -> str:
    shown = ", ".join(sorted(paths)[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


class Destination:
    def __init__(self, dest: Path, output_dir: Path, overwrite_edited: bool = False) -> None:
        if _inside(dest, output_dir):
            raise OutputError(
                f"{dest}: inside the output folder {output_dir}; export never changes it: "
                "choose a folder outside it"
            )
        require_real_folder(dest, "choose another export folder")
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{dest}: cannot create ({exc.strerror or exc})") from exc
        self.dest = dest
        self.overwrite_edited = overwrite_edited
        # What the last export wrote: None for a file listed without its content (an
        # earlier version's record, or an entry written by hand): never trusted.
        self.previous = self._read_record()
        # This export's files; an edited file left alone keeps its earlier entry.
        self.current: dict[str, Content | None] = {}
        self.edited_kept: list[str] = []  # chosen again, changed by hand: left alone
        self.edited_left: list[str] = []  # no longer chosen, changed: left, not recorded
        self.counts = {
            "written": 0,
            "unchanged": 0,
            "removed": 0,
            "link_fallbacks": 0,
            "edited_kept": 0,
            "edited_replaced": 0,
        }

    def _read_record(self) -> dict[str, Content | None]:
        path = self.dest / RECORD
        if path.is_symlink():
            raise OutputError(f"{path}: is a link; remove it or choose another folder")
        if not path.exists():
            return {}
        try:
            files = json.loads(path.read_text(encoding="utf-8"))["files"]
            if isinstance(files, list):  # an earlier version's: names only
                return {f: None for f in files if isinstance(f, str) and _valid(f)}
            if not isinstance(files, dict):
                raise TypeError("'files' is not a list or an object")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise OutputError(
                f"{path}: unreadable ({exc}); remove it or choose another folder"
            ) from exc
        return {f: Content.parse(c) for f, c in files.items() if isinstance(f, str) and _valid(f)}

    def _target(self, relative: str) -> Path:
        """The file's path, its folders made (none of them a link); OutputError when the
        file is there but the record does not list it (not ours)."""
        assert _valid(relative), relative
        if relative in self.current:
            raise OutputError(f"{self.dest / relative}: two exported files have this name")
        current = self.dest
        for part in PurePosixPath(relative).parts[:-1]:
            current = require_real_folder(current / part, "choose another export folder")
            current.mkdir(exist_ok=True)
        target = self.dest / relative
        if target.is_symlink() or (
            target.exists() and (relative not in self.previous or not target.is_file())
        ):
            raise OutputError(
                f"{target}: exists and was not written by personframes export; "
                "choose an empty folder or move it away"
            )
        return target

    def _put(self, relative: str, new: Content, write: Callable[[Path], None]) -> None:
        """Write ``relative`` (``new`` is the content ``write`` gives it) unless it holds
        that content already, or was changed since the last export wrote it."""
        target = self._target(relative)
        if not target.exists():
            write(target)
            self.current[relative] = new
            self.counts["written"] += 1
            return
        recorded = self.previous[relative]
        try:
            actual = Content.of_file(target)
        except OSError as exc:
            raise OutputError(f"{target}: cannot read ({exc.strerror or exc})") from exc
        if actual == new:
            self.current[relative] = new
            self.counts["unchanged"] += 1
            return
        if actual != recorded:  # changed by hand, or never ours
            if not self.overwrite_edited:
                self.current[relative] = recorded
                self.edited_kept.append(relative)
                self.counts["edited_kept"] += 1
                return
            self.counts["edited_replaced"] += 1
        write(target)
        self.current[relative] = new
        self.counts["written"] += 1

    def put_bytes(self, relative: str, data: bytes) -> None:
        self._put(relative, Content.of_bytes(data), lambda t: atomic_write_bytes(t, data))

    def put_file(self, relative: str, source: Path, link: bool) -> None:
        try:
            content = Content.of_file(source)
        except OSError as exc:
            raise OutputError(f"{source}: cannot read ({exc.strerror or exc})") from exc
        self._put(relative, content, lambda target: self._copy(source, target, link))

    def _copy(self, source: Path, target: Path, link: bool) -> None:
        temp = target.with_name(f"{TEMP_PREFIX}{target.name}")
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        try:
            if link:
                try:
                    os.link(source, temp)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                        raise
                    if not self.counts["link_fallbacks"]:
                        log.warning(
                            "cannot hard-link into %s (%s): copying instead",
                            self.dest,
                            exc.strerror or exc,
                        )
                    self.counts["link_fallbacks"] += 1
                    shutil.copyfile(source, temp)
            else:
                shutil.copyfile(source, temp)
            os.replace(temp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc

    def _remove_if_ours(self, relative: str, recorded: Content | None) -> None:
        """Delete an earlier export's file no longer chosen, when it is still what that
        export wrote (and the folders that leaves empty); else leave it."""
        path = self.dest / relative
        if not os.path.lexists(path):
            return
        try:
            ours = (
                recorded is not None
                and is_real_file(self.dest, relative)
                and Content.of_file(path) == recorded
            )
        except OSError:
            ours = False
        if not ours:
            self.edited_left.append(relative)
            self.counts["edited_kept"] += 1
            return
        with contextlib.suppress(OSError):
            path.unlink()
            self.counts["removed"] += 1
        parent = path.parent
        while parent != self.dest and not parent.is_symlink():
            try:
                parent.rmdir()  # only once empty
            except OSError:
                break
            parent = parent.parent

    def _save(self, files: dict[str, Content | None]) -> None:
        entries = {f: None if c is None else c.to_json() for f, c in sorted(files.items())}
        write_json(self.dest / RECORD, {"version": RECORD_VERSION, "files": entries})

    def finish(self) -> None:
        """Remove the earlier export's files not written this time, then record this
        export's files (written atomically)."""
        for relative, recorded in sorted(self.previous.items()):
            if relative not in self.current:
                self._remove_if_ours(relative, recorded)
        self._save(self.current)
        if self.edited_kept:
            log.warning(
                "%s: %d file%s changed since personframes export wrote %s, left as they "
                "are (--overwrite-edited replaces them): %s",
                self.dest,
                len(self.edited_kept),
                "s" * (len(self.edited_kept) != 1),
                "them" if len(self.edited_kept) != 1 else "it",
                _listing(self.edited_kept),
            )
        if self.edited_left:
            log.warning(
                "%s: %d file%s no longer exported but not as personframes export wrote "
                "%s, left there and forgotten: %s",
                self.dest,
                len(self.edited_left),
                "s" * (len(self.edited_left) != 1),
                "them" if len(self.edited_left) != 1 else "it",
                _listing(self.edited_left),
            )

    def abandon(self) -> None:
        """After a failure: record what this export wrote so far beside what the last one
        did (a rerun then knows them as its own); nothing is removed."""
        with contextlib.suppress(OutputError):
            self._save({**self.previous, **self.current})
