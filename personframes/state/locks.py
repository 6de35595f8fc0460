"""Lock files in ``OUT/.personframes``: one process per video, and no state set aside
while a run uses it.

Locks are ``flock`` locks, so a process that dies (``kill -9``, a power cut) holds none:
the file it leaves is stale and the next run takes it over. Each file names its holder
(pid, host, start time) for the message a second process gets. A lock file, or a folder
on the way to it, that is a link is refused (OutputError), never followed: the holder is
written into the file and the file deleted on release.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import BusyError, OutputError
from ..output import safe_paths

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCKS_DIRNAME = "locks"
FOLDER_LOCK = "folder.lock"


def _holder(handle: int) -> str:
    """Who the lock file says holds it ("" when it does not say)."""
    with contextlib.suppress(OSError):
        return os.pread(handle, 200, 0).decode("utf-8", "replace").strip()
    return ""


def _same_file(handle: int, path: Path) -> bool:
    """Whether ``path`` (itself, not what a link there leads to) is the open file."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle)
    return (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


@contextlib.contextmanager
def hold(
    inside: Path, path: Path, what: str, exclusive: bool = True, remove: bool = True
) -> Iterator[None]:
    """Hold the lock ``path`` (below the output folder ``inside``) for the duration, or
    raise BusyError naming its holder.

    ``exclusive=False`` takes a shared lock (many holders at once). ``remove`` (exclusive
    locks) writes the holder into the file and deletes it on release; a process that
    opened it meanwhile sees it gone and locks a fresh one.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        safe_paths.make_folders(inside, path.parent)
        try:
            handle = safe_paths.open_nofollow(
                inside, path, os.O_RDWR | os.O_CREAT, 0o644, in_place=True
            )
        except OSError as exc:
            raise OutputError(f"{path}: cannot create a lock file ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle) or "another process"
            os.close(handle)
            raise BusyError(
                f"{what} is in use by {holder}; wait for it to finish, or stop it"
            ) from None
        if _same_file(handle, path):
            break
        os.close(handle)  # removed by its last holder while we waited: lock the new one
    try:
        if exclusive and remove:
            previous = _holder(handle)
            if previous:
                log.info("%s: took over the lock left by %s (no longer running)", what, previous)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            note = f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n"
            os.ftruncate(handle, 0)
            os.pwrite(handle, note.encode(), 0)
        yield
    finally:
        if exclusive and remove:
            with contextlib.suppress(OSError, OutputError):
                if _same_file(handle, path):  # never another file put in its place
                    safe_paths.unlink(inside, path)
        os.close(handle)


def video_lock(
    state_folder: Path, video_key: str, video: Path
) -> contextlib.AbstractContextManager[None]:
    """One process at a time per video and output folder."""
    return hold(
        state_folder.parent,
        state_folder / LOCKS_DIRNAME / f"{video_key}.lock",
        f"{video.name} in {state_folder.parent}",
    )


def folder_lock(state_folder: Path, exclusive: bool) -> contextlib.AbstractContextManager[None]:
    """Shared by every run in the folder; exclusive to set its state database aside."""
    return hold(
        state_folder.parent,
        state_folder / FOLDER_LOCK,
        f"the output folder {state_folder.parent}",
        exclusive,
        remove=False,
    )
