"""Getting an output folder ready before any video is processed into it, and leaving
none of a rejected video's state behind."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from ..errors import BusyError
from ..output.writer import remove_stale_temp_files
from .context import TEMP_DIRNAME
from .index import NAMES_DIRNAME, PATHS_DIRNAME, FolderIndex
from .locks import FOLDER_LOCK, LOCKS_DIRNAME, folder_lock
from .migrate import migrate_single_database
from .restored import FOLDER as RESTORED_DIRNAME
from .state import STATE_FILENAME, VIDEOS_DIRNAME, state_folder, video_folder


def prepare_output_folder(output_dir: Path) -> None:
    """Remove temporary files killed runs left, and move the state of an earlier
    version (one database for the folder) into per-video databases. Creates nothing
    when the folder has no state yet."""
    if not output_dir.is_dir():
        return
    remove_stale_temp_files(output_dir)
    folder = state_folder(output_dir)
    if (folder / STATE_FILENAME).is_file():
        with folder_lock(folder, exclusive=True):
            migrate_single_database(output_dir)


def remove_fresh_state(output_dir: Path, video_key: str, video: Path) -> None:
    """Remove what this process stored for a video that proved to be bad input while
    it was new here: its state folder, its name and its path's cache entry; then the
    state folder itself when nothing else is in it and no other process uses it."""
    folder = state_folder(output_dir)
    if video_key:
        index = FolderIndex(output_dir)
        stem = index.stem_of(video_key)
        shutil.rmtree(video_folder(output_dir, video_key), ignore_errors=True)
        if stem is not None:
            (folder / NAMES_DIRNAME / f"{stem.casefold()}.json").unlink(missing_ok=True)
        index.forget_path(video)
    try:
        with folder_lock(folder, exclusive=True):
            for sub in (
                VIDEOS_DIRNAME,
                NAMES_DIRNAME,
                PATHS_DIRNAME,
                LOCKS_DIRNAME,
                TEMP_DIRNAME,
                RESTORED_DIRNAME,
            ):
                with contextlib.suppress(OSError):
                    (folder / sub).rmdir()  # only when empty
            if not any(p.name != FOLDER_LOCK for p in folder.iterdir()):
                (folder / FOLDER_LOCK).unlink(missing_ok=True)
    except (BusyError, OSError):
        return
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
