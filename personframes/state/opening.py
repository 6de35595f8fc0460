"""``open_video``: one visit gives a video its content key, its lock, its state database
(checked) and its output stem in the folder, in that order, under the folder's shared
lock."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, StateError
from ..output.naming import safe_stem
from .index import FolderIndex
from .locks import folder_lock, video_lock
from .video import STATE_FILENAME, VideoState, set_aside, video_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedVideo:
    key: str  # the video's content key (its folder under .personframes/videos/)
    stem: str  # the name its outputs start with in the folder
    store: VideoState  # its state database, checked, open until the visit ends
    fresh: bool  # the database did not exist before this visit


@contextlib.contextmanager
def open_video(
    output_dir: Path,
    video: Path,
    *,
    remembered: bool = True,
    preferred: str = "",
    forget_fresh: Callable[[str], None] | None = None,
) -> Iterator[OpenedVideo]:
    """The video's key, lock, state and stem for the time of the ``with``. ``remembered``:
    the path cache may give the key (no full read); ``preferred``: the stem the batch
    chose. Bad input found inside a visit that created the video's state calls
    ``forget_fresh(key)`` (to leave nothing behind) before the InputError goes on."""
    index = FolderIndex(output_dir)
    fresh_key = ""
    try:
        with folder_lock(index.folder, exclusive=False):
            key = index.video_key(video, remembered=remembered)
            with video_lock(index.folder, key, video):
                if not (video_folder(output_dir, key) / STATE_FILENAME).exists():
                    fresh_key = key
                store = open_state(output_dir, key)
                try:
                    stem = claim_stem(index, key, video, preferred)
                    yield OpenedVideo(key, stem, store, bool(fresh_key))
                finally:
                    store.close()
    except InputError:
        # Outside the locks: the clean-up takes the folder's lock for itself.
        if fresh_key and forget_fresh is not None:
            forget_fresh(fresh_key)
        raise


def claim_stem(index: FolderIndex, video_key: str, video: Path, preferred: str = "") -> str:
    """The video's output stem in this folder; a renamed one is said at WARNING."""
    wanted = safe_stem(video.stem)
    stem = index.claim_stem(video_key, video, wanted, preferred)
    if stem != wanted:
        holder = index.holder_of(wanted) or "another video"
        log.warning(
            "%s: outputs named %s_* in %s (%s is taken there by %s)",
            video,
            stem,
            index.output_dir,
            wanted,
            holder,
        )
    return stem


def open_state(output_dir: Path, video_key: str) -> VideoState:
    """The video's state database, checked; one that fails its check (damaged, altered,
    naming files outside the folder) is renamed aside with a WARNING, never deleted, and
    the video is processed afresh. Call it holding the video's lock."""
    path = video_folder(output_dir, video_key) / STATE_FILENAME
    try:
        store = VideoState(output_dir, video_key)
        try:
            store.check()
        except StateError:
            store.close()
            raise
        return store
    except StateError as exc:
        moved = set_aside(path, str(exc))
        log.warning(
            "state database failed its check (%s); set aside as %s, and the video is "
            "processed afresh",
            exc,
            moved,
        )
        return VideoState(output_dir, video_key)
