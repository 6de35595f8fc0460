"""Paths below the output folder, reached through no symbolic link.

The output folder itself is whatever the user chose (a link to a folder is fine). Below
it (``.personframes`` and everything in it, a person's folder), a link planted in place
of a folder or a file would have personframes create, truncate, delete or trust files
outside the output folder: SQLite and ``open()`` follow links. So every folder from the
output folder down to what is opened is checked with ``lstat`` (a real folder, or
absent), files are opened with ``O_NOFOLLOW`` once they are known to be regular files
(or absent), and a link anywhere on the way is refused with OutputError (one line,
exit 2), never followed. A file written in place rather than replaced (a lock, a
database) must have no other hard link either: writing it would change a file elsewhere.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Literal

from ..errors import OutputError

KEEPS_FILES = "personframes keeps its files there: remove it and run again"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")  # files SQLite opens beside a database


def _lstat(path: Path) -> os.stat_result | None:
    """``path``'s own status (a link's, never its target's); None when it is absent."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def require_real_folder(path: Path, what_to_do: str = KEEPS_FILES) -> Path:
    """``path`` when it is a real folder or absent; OutputError when it is a symbolic link
    (which would send writes and clean-up elsewhere) or a file."""
    info = _lstat(path)
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{path}: is a link or a file, not a folder; {what_to_do}")
    return path


def _parts(root: Path, path: Path) -> tuple[str, ...]:
    parts = path.relative_to(root).parts  # ValueError: a caller's mistake, not input
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{path}: not a plain path below {root}")
    return parts


def real_folders(root: Path, path: Path, what_to_do: str = KEEPS_FILES) -> Path:
    """``path`` (below ``root``), once every folder from ``root`` down to it, ``path``
    included, is known to be a real folder or absent."""
    current = root
    for part in _parts(root, path):
        current = require_real_folder(current / part, what_to_do)
    return path


def make_folders(root: Path, path: Path, what_to_do: str = KEEPS_FILES) -> Path:
    """``real_folders``, then each missing folder made, one at a time (``root`` too,
    with its parents, when it is missing: it is the user's choice)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{root}: cannot create ({exc.strerror or exc})") from exc
    current = root
    for part in _parts(root, path):
        current = require_real_folder(current / part, what_to_do)
        try:
            os.mkdir(current)
        except FileExistsError:
            require_real_folder(current, what_to_do)  # made meanwhile: as a folder?
        except OSError as exc:
            raise OutputError(f"{current}: cannot create ({exc.strerror or exc})") from exc
    return path


def _check_file(path: Path, info: os.stat_result, in_place: bool, what_to_do: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{path}: is a link or not a regular file; {what_to_do}")
    if in_place and info.st_nlink > 1:  # a hard link: writing it would change the others
        raise OutputError(
            f"{path}: has {info.st_nlink} hard links and personframes writes it in place "
            "(the others would change too); replace it with a copy and run again"
        )


def real_file(
    root: Path, path: Path, what_to_do: str = KEEPS_FILES, in_place: bool = False
) -> Path:
    """``path`` (below ``root``), once the folders on the way are real folders and it is a
    regular file or absent: never a link, a folder, a pipe or a device. ``in_place``
    (a file written where it is, not replaced: a lock, a database) refuses a file with
    other hard links too."""
    real_folders(root, path.parent, what_to_do)
    info = _lstat(path)
    if info is not None:
        _check_file(path, info, in_place, what_to_do)
    return path


def open_nofollow(
    root: Path,
    path: Path,
    flags: int,
    mode: int = 0o644,
    what_to_do: str = KEEPS_FILES,
    in_place: bool = False,
) -> int:
    """``os.open(path, flags)`` once ``real_file`` holds, with ``O_NOFOLLOW`` (a link put
    there meanwhile is refused too). OSErrors other than a link's pass through
    (FileNotFoundError for an absent file opened without ``O_CREAT``)."""
    real_file(root, path, what_to_do, in_place)
    try:
        handle = os.open(path, flags | _NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path}: is a link or not a regular file; {what_to_do}") from exc
        raise
    try:
        _check_file(path, os.fstat(handle), in_place, what_to_do)
    except OutputError:
        os.close(handle)
        raise
    return handle


def read_bytes(root: Path, path: Path, what_to_do: str = KEEPS_FILES) -> bytes | None:
    """The content of the regular file ``path`` below ``root``; None when it is absent.
    A link there is refused (OutputError); other errors of reading pass through."""
    try:
        handle = open_nofollow(root, path, os.O_RDONLY, what_to_do=what_to_do)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(handle, "rb") as file:
        return file.read()


def unlink(root: Path, path: Path, what_to_do: str = KEEPS_FILES) -> bool:
    """Delete ``path`` (a link itself, never what it points to) once the folders on the
    way are real; False when it was absent."""
    real_folders(root, path.parent, what_to_do)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def sqlite_uri(
    root: Path, path: Path, mode: Literal["ro", "rw", "rwc"], what_to_do: str = KEEPS_FILES
) -> str:
    """The ``file:`` URI to open the SQLite database ``path`` with (``uri=True``), once
    it and the files SQLite keeps beside it (journal, WAL) are regular files or absent,
    reached through real folders (and, unless read only, have no other hard link: SQLite
    writes them in place). Call it right before connecting: SQLite follows links,
    and would create, write or read the database or its journal wherever one leads."""
    for suffix in ("", *SQLITE_COMPANIONS):
        real_file(root, path.with_name(path.name + suffix), what_to_do, in_place=mode != "ro")
    return f"{Path(os.path.abspath(path)).as_uri()}?mode={mode}"


def is_real_file(output_dir: Path, relative: str) -> bool:
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
