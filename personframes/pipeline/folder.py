"""Getting an output folder ready before any video is processed into it."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from ..errors import BusyError, StateError
from ..output.writer import remove_stale_temp_files
from .context import TEMP_DIRNAME
from .locks import FOLDER_LOCK, LOCKS_DIRNAME, folder_lock
from .restored import FOLDER as RESTORED_DIRNAME
from .state import STATE_FILENAME, StateStore, set_aside, state_folder

log = logging.getLogger(__name__)


def prepare_output_folder(output_dir: Path) -> None:
    """Remove temporary files a killed run left, and check the state database.

    A state database that is not as this program leaves it (damaged, altered, or naming
    files outside the folder) is renamed aside, never deleted, with a WARNING; its
    videos are then processed afresh. Creates nothing when the folder has no state yet.
    """
    if not output_dir.is_dir():
        return
    remove_stale_temp_files(output_dir)
    folder = state_folder(output_dir)
    if not (folder / STATE_FILENAME).exists():
        return
    try:
        store = StateStore(output_dir)
        try:
            store.check()
        finally:
            store.close()
    except StateError as exc:
        with folder_lock(folder, exclusive=True):
            moved = set_aside(output_dir, str(exc))
        log.warning(
            "state database failed its check (%s); set aside as %s, and the videos in %s "
            "are processed afresh",
            exc,
            moved.name,
            output_dir,
        )


def remove_fresh_state(output_dir: Path) -> None:
    """Remove the state folder this process created for a video that then proved to be
    bad input, when no other video has used it since: only the files personframes puts
    there, and only if nothing else is in it. Another process using it keeps it."""
    folder = state_folder(output_dir)
    try:
        with folder_lock(folder, exclusive=True):
            store = StateStore(output_dir)
            try:
                used = store.videos_with_state()
            finally:
                store.close()
            if len(used) > 1:
                return
            for name in (STATE_FILENAME, f"{STATE_FILENAME}-wal", f"{STATE_FILENAME}-shm"):
                (folder / name).unlink(missing_ok=True)
            for sub in (LOCKS_DIRNAME, TEMP_DIRNAME, RESTORED_DIRNAME):
                with contextlib.suppress(OSError):
                    (folder / sub).rmdir()  # only when empty
            (folder / FOLDER_LOCK).unlink(missing_ok=True)
    except (BusyError, OSError):
        return
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
