"""What the videos of one output folder share, kept as small files, not a database.

Processes on several hosts (``--shard``, ``--executor ray``) may work in one output
folder at once, so nothing here is a database they would all write:

- ``OUT/.personframes/names/FOLDED.json``: the claim of an output stem, written whole
  and hard-linked into place, which fails when the name exists (exactly one video gets
  each name, on any file system with atomic links); it holds the stem, the video's key
  and its path.
- ``OUT/.personframes/videos/KEY/video.json``: the stem that video holds and its path.
- ``OUT/.personframes/paths/HASH.json``: a path's size, modification time and content
  key, so a rerun over unchanged files does not read them again.

Every file is written whole under a temporary name, then renamed; a file that does not
parse is treated as absent (the path cache) or set aside with a WARNING (a claim). A link
in place of a file or folder here is refused (OutputError), never followed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import InputError, OutputError
from ..output import safe_paths
from ..output.naming import safe_stem
from ..output.writer import owned_prefix, write_json, write_text
from .video import (
    STATE_DIRNAME,
    STATE_FILENAME,
    VIDEO_KEY,
    VIDEOS_DIRNAME,
    content_hash,
    state_folder,
    video_folder,
)

log = logging.getLogger(__name__)

NAMES_DIRNAME = "names"
PATHS_DIRNAME = "paths"
VIDEO_FILENAME = "video.json"
SAMPLE_BYTES = 1 << 16  # read from each end of a file for its shard key


def _read(output_dir: Path, path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (below ``output_dir``); None when the file is absent,
    {} when it does not parse; OutputError when it or a folder on the way is a link."""
    try:
        raw = safe_paths.read_bytes(output_dir, path)
        if raw is None:
            return None
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def path_hash(where: str) -> str:
    return hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def shard_key(path: Path) -> int:
    """A number that depends only on the file's content, read cheaply (its size and
    first and last 64 KiB: every shard reads them for every video of the batch), so the
    same video lands in the same shard wherever it is
    listed and whatever else is in the batch. A file that cannot be read is keyed by
    its name (so exactly one shard reports it)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest.update(size.to_bytes(8, "little"))
            digest.update(handle.read(SAMPLE_BYTES))
            if size > 2 * SAMPLE_BYTES:
                handle.seek(size - SAMPLE_BYTES)
            digest.update(handle.read(SAMPLE_BYTES))
    except OSError:
        digest.update(b"unreadable:" + os.fsencode(path.name))
    return int.from_bytes(digest.digest()[:8], "big")


def in_shard(path: Path, shard: tuple[int, int]) -> bool:
    number, count = shard
    return shard_key(path) % count == number


class FolderIndex:
    """Names and the path -> key cache of one output folder."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.folder = state_folder(output_dir)

    def _own(self, name: str) -> Path:
        """``.personframes/NAME``, made, once every folder down to it is a real folder
        (a link there would send the state elsewhere)."""
        return safe_paths.make_folders(self.output_dir, self.folder.joinpath(*name.split("/")))

    # -- videos ------------------------------------------------------------
    def video_key(self, path: Path, remembered: bool = True) -> str:
        """The video's content hash, remembered with its path, size and modification
        time: a rerun over unchanged files does not read them again (``remembered=False``
        reads the file regardless)."""
        try:
            stat = path.stat()
            where = str(path.resolve())
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        cache = self.folder / PATHS_DIRNAME / f"{path_hash(where)}.json"
        known = _read(self.output_dir, cache)
        if (
            remembered
            and known
            and known.get("path") == where
            and known.get("size") == stat.st_size
            and known.get("mtime_ns") == stat.st_mtime_ns
            and isinstance(known.get("video_key"), str)
            and VIDEO_KEY.match(known["video_key"])
        ):
            return str(known["video_key"])
        key = content_hash(path)
        entry = {
            "path": where,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "video_key": key,
        }
        if known and known.get("path") == where:  # the key the file had before it changed
            before = known.get("video_key") if known.get("video_key") != key else None
            entry["previous_key"] = before or known.get("previous_key")
        self._own(PATHS_DIRNAME)
        write_json(cache, entry)
        return key

    def forget_path(self, path: Path) -> None:
        """Drop ``path``'s cache entry (a video that proved to be bad input)."""
        with contextlib.suppress(OSError, OutputError):  # a link on the way: left alone
            cache = self.folder / PATHS_DIRNAME / f"{path_hash(str(path.resolve()))}.json"
            safe_paths.unlink(self.output_dir, cache)

    def _previous_key(self, where: str) -> str | None:
        """The key the file at ``where`` had before it last changed, if any."""
        known = _read(self.output_dir, self.folder / PATHS_DIRNAME / f"{path_hash(where)}.json")
        key = known.get("previous_key") if known else None
        return key if isinstance(key, str) and VIDEO_KEY.match(key) else None

    def stem_of(self, video_key: str) -> str | None:
        """The stem ``video_key`` holds here, if it holds one."""
        data = _read(self.output_dir, video_folder(self.output_dir, video_key) / VIDEO_FILENAME)
        stem = data.get("stem") if data else None
        if not isinstance(stem, str) or safe_stem(stem) != stem:
            return None
        claim = self._claim(stem)
        return stem if claim is not None and claim.get("video_key") == video_key else None

    def path_of(self, video_key: str) -> str | None:
        data = _read(self.output_dir, video_folder(self.output_dir, video_key) / VIDEO_FILENAME)
        path = data.get("path") if data else None
        return path if isinstance(path, str) else None

    def _claim(self, stem: str) -> dict[str, Any] | None:
        """The claim file of ``stem``; one that does not parse is set aside (WARNING)."""
        path = self.folder / NAMES_DIRNAME / f"{stem.casefold()}.json"
        data = _read(self.output_dir, path)
        claimed = data.get("stem") if data else None
        if data == {} or (
            data and (not isinstance(claimed, str) or claimed.casefold() != stem.casefold())
        ):
            aside = path.with_name(f"{path.name}.invalid")
            try:
                path.replace(aside)
            except OSError:
                return data or None
            log.warning("%s: not a name claim personframes wrote; set aside as %s", path, aside)
            return None
        return data

    def _record(self, video_key: str, stem: str, where: str) -> None:
        own = video_folder(self.output_dir, video_key)
        self._own(f"{VIDEOS_DIRNAME}/{video_key}")
        write_json(own / VIDEO_FILENAME, {"stem": stem, "path": where})

    def _try_claim(self, stem: str, video_key: str, where: str, again: bool = True) -> bool:
        """Create ``stem``'s claim for ``video_key``; False when another video holds it.

        The claim is written whole under a temporary name, then hard-linked to its own
        name, which fails when that exists: another process never sees a claim half
        written (and takes it for a damaged one)."""
        folder = self._own(NAMES_DIRNAME)
        path = folder / f"{stem.casefold()}.json"
        body = json.dumps({"stem": stem, "video_key": video_key, "path": where}) + "\n"
        temp = folder / f"{owned_prefix()}{video_key}.json"  # removed if this process dies
        try:
            write_text(temp, body)
            try:
                os.link(temp, path)
            finally:
                temp.unlink(missing_ok=True)
        except FileExistsError:
            claim = self._claim(stem)
            if claim is None and again:  # set aside just now: try again, once
                return self._try_claim(stem, video_key, where, again=False)
            return claim is not None and claim.get("video_key") == video_key
        except OSError as exc:
            raise OutputError(f"{path}: cannot create ({exc.strerror or exc})") from exc
        return True

    def claim_stem(self, video_key: str, path: Path, wanted: str, preferred: str = "") -> str:
        """The name this video's outputs start with in this folder, the same on every run.

        A video keeps the stem it first got (found by content, then by path: a changed
        file at the same path keeps its name). A new video takes ``preferred`` (the
        batch's choice, made in input order, so every shard agrees) or ``wanted``, else
        the first free of ``wanted-2``, ``wanted-3``...; names are compared case-folded,
        as a case-insensitive file system would.
        """
        where = str(path.resolve())
        held = self.stem_of(video_key)
        if held is not None:
            return held
        previous = self._previous_key(where)
        if previous is not None and previous != video_key:
            stem = self.stem_of(previous)
            if stem is not None:  # the file at this path changed: it keeps the name
                self._own(NAMES_DIRNAME)
                write_json(
                    self.folder / NAMES_DIRNAME / f"{stem.casefold()}.json",
                    {"stem": stem, "video_key": video_key, "path": where},
                )
                self._record(video_key, stem, where)
                return stem
        candidates = [preferred] if preferred and preferred != wanted else []
        candidates.append(wanted)
        number = 1
        while True:
            for stem in candidates:
                if self._try_claim(stem, video_key, where):
                    self._record(video_key, stem, where)
                    return stem
            number += 1
            candidates = [f"{wanted}-{number}"]

    def holder_of(self, stem: str) -> str | None:
        """The path of the video that holds ``stem`` here, if any."""
        claim = self._claim(stem)
        path = claim.get("path") if claim else None
        return path if isinstance(path, str) else None

    def videos(self) -> list[str]:
        """The keys of every video with a state database here, in key order."""
        folder = self.folder / VIDEOS_DIRNAME
        if not folder.is_dir() or folder.is_symlink():
            return []
        return sorted(
            entry.name
            for entry in folder.iterdir()
            if VIDEO_KEY.match(entry.name) and (entry / STATE_FILENAME).is_file()
        )


def has_state(output_dir: Path) -> bool:
    """Whether ``output_dir`` holds personframes state (of this version or the last)."""
    folder = output_dir / STATE_DIRNAME
    return (folder / VIDEOS_DIRNAME).is_dir() or (folder / STATE_FILENAME).is_file()
