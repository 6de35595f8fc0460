"""Getting an output folder ready before any video is processed into it."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import StateError
from ..output.writer import remove_stale_temp_files
from .locks import folder_lock
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
