"""The videos of one batch that are the same video: processed once, the others said.

A video's state is keyed by its content (``index.FolderIndex.video_key``), so two
inputs with the same content (hard links, copies) are one video in an output folder:
run side by side by two workers, the second would find the first holding its lock. The
batch finds them before any worker starts, and cheaply, since they are rare: only files
of one size are compared; links of one file are the same by their inode, unread; other
files by their shard key (size, first and last 64 KiB), and only where that agrees by
their whole content.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from pathlib import Path

from ..state.index import shard_key
from ..state.video import content_hash


def same_content(videos: list[Path], folder_of: Callable[[Path], Path]) -> dict[Path, Path]:
    """Each video with the content of an earlier one of ``videos`` that goes to the same
    output folder (``folder_of``) -> the first of them in input order. A file that
    cannot be read is nobody's duplicate (its own run says why)."""
    by_size: dict[tuple[Path, int], list[tuple[Path, os.stat_result]]] = {}
    for video in videos:
        try:
            stat = video.stat()
        except OSError:
            continue
        by_size.setdefault((folder_of(video), stat.st_size), []).append((video, stat))
    twins: dict[Path, Path] = {}
    for group in by_size.values():
        if len(group) > 1:
            twins.update(_same_in(group))
    return twins


def _same_in(group: list[tuple[Path, os.stat_result]]) -> dict[Path, Path]:
    """The duplicates among files of one size, each -> the first of its content."""
    links: dict[tuple[int, int], Path] = {}  # each inode's first file stands for it
    for video, stat in group:
        links.setdefault((stat.st_dev, stat.st_ino), video)
    first = list(links.values())
    same: dict[Path, Path] = {}  # one inode's first file -> an earlier one's, same content
    for sampled in _agreeing(first, shard_key):
        for equal in _agreeing(sampled, content_hash):
            same.update(dict.fromkeys(equal[1:], equal[0]))
    twins: dict[Path, Path] = {}
    for video, stat in group:
        head = links[(stat.st_dev, stat.st_ino)]
        original = same.get(head, head)
        if video != original:
            twins[video] = original
    return twins


def _agreeing(files: list[Path], key: Callable[[Path], Hashable]) -> list[list[Path]]:
    """The files, grouped by ``key`` (in their order), in groups of two or more; a file
    that cannot be read is left out."""
    groups: dict[Hashable, list[Path]] = {}
    for path in files:
        try:
            groups.setdefault(key(path), []).append(path)
        except OSError:
            continue
    return [paths for paths in groups.values() if len(paths) > 1]
