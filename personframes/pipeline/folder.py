"""Getting an output folder ready before any video is processed into it, and leaving
none of a rejected video's state behind."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..errors import BusyError, OutputError
from ..output import safe_paths
from ..output.naming import PERSON_FOLDER
from ..output.writer import remove_stale_temp_files
from ..state.index import NAMES_DIRNAME, PATHS_DIRNAME, FolderIndex
from ..state.locks import FOLDER_LOCK, LOCKS_DIRNAME, folder_lock
from ..state.migrate import migrate_single_database
from ..state.video import STATE_FILENAME, VIDEOS_DIRNAME, state_folder, video_folder
from .context import TEMP_DIRNAME
from .restored import FOLDER as RESTORED_DIRNAME


def remove_dead_runs_temp_files(output_dir: Path) -> int:
    """Remove the temporary files that killed runs left wherever personframes writes in
    ``output_dir``: the folder itself, the people's folders (``--group-by-person``) and
    the whole state folder; never through a link. Returns how many."""
    removed = remove_stale_temp_files(output_dir)
    with contextlib.suppress(OSError):
        for entry in os.scandir(output_dir):
            if PERSON_FOLDER.match(entry.name) and entry.is_dir(follow_symlinks=False):
                removed += remove_stale_temp_files(Path(entry.path))
    folder = state_folder(output_dir)  # refused when it is a link
    if folder.is_dir():
        removed += remove_stale_temp_files(folder, recursive=True)
    return removed


def prepare_output_folder(output_dir: Path) -> None:
    """Remove temporary files killed runs left, and move the state of an earlier
    version (one database for the folder) into per-video databases. Creates nothing
    when the folder has no state yet."""
    if not output_dir.is_dir():
        return
    remove_dead_runs_temp_files(output_dir)
    folder = state_folder(output_dir)
    if safe_paths.real_file(output_dir, folder / STATE_FILENAME).is_file():
        with folder_lock(folder, exclusive=True):
            migrate_single_database(output_dir)


def remove_fresh_state(output_dir: Path, video_key: str, video: Path) -> None:
    """Remove what this process stored for a video that proved to be bad input while
    it was new here: its state folder, its name and its path's cache entry; then the
    state folder itself when nothing else is in it and no other process uses it."""
    folder = state_folder(output_dir)
    if video_key:
        index = FolderIndex(output_dir)
        try:  # a link on the way is left alone: nothing outside the folder is removed
            stem = index.stem_of(video_key)
            own = safe_paths.real_folders(output_dir, video_folder(output_dir, video_key))
            shutil.rmtree(own, ignore_errors=True)  # links inside: removed, never followed
            if stem is not None:
                safe_paths.unlink(output_dir, folder / NAMES_DIRNAME / f"{stem.casefold()}.json")
        except (OSError, OutputError):
            pass
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
                safe_paths.unlink(output_dir, folder / FOLDER_LOCK)
    except (BusyError, OutputError, OSError):
        return
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
