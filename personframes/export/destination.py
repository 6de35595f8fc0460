"""The export folder: files written atomically, copied or hard-linked, and a record of
what the last export wrote there, so that a rerun rewrites only what changed and removes
only its own files that are no longer chosen. A file it did not write is never
overwritten or removed."""

from __future__ import annotations

import contextlib
import errno
import filecmp
import json
import logging
import os
import shutil
from pathlib import Path, PurePosixPath

from ..errors import OutputError
from ..output.naming import is_plain_file_name
from ..output.writer import TEMP_PREFIX, atomic_write_bytes, write_json
from ..pipeline.state import require_real_folder

log = logging.getLogger(__name__)

RECORD = ".personframes-export.json"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


class Destination:
    def __init__(self, dest: Path, output_dir: Path) -> None:
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
        self.previous = self._read_record()
        self.current: set[str] = set()
        self.counts = {"written": 0, "unchanged": 0, "removed": 0, "link_fallbacks": 0}

    def _read_record(self) -> set[str]:
        path = self.dest / RECORD
        if not path.is_file():
            return set()
        try:
            files = json.loads(path.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputError(
                f"{path}: unreadable ({exc}); remove it or choose another folder"
            ) from exc
        return {f for f in files if isinstance(f, str) and self._valid(f)}

    @staticmethod
    def _valid(relative: str) -> bool:
        parts = PurePosixPath(relative).parts
        return bool(parts) and all(is_plain_file_name(p) for p in parts)

    def _target(self, relative: str) -> Path:
        """The file's path, once it is known to be ours to write: no link on the way, and
        absent or written by an earlier export."""
        assert self._valid(relative), relative
        if relative in self.current:
            raise OutputError(f"{self.dest / relative}: two exported files have this name")
        current = self.dest
        for part in PurePosixPath(relative).parts[:-1]:
            current = require_real_folder(current / part, "choose another export folder")
            current.mkdir(exist_ok=True)
        target = self.dest / relative
        if target.is_symlink() or (target.exists() and relative not in self.previous):
            raise OutputError(
                f"{target}: exists and was not written by personframes export; "
                "choose an empty folder or move it away"
            )
        self.current.add(relative)
        return target

    def put_bytes(self, relative: str, data: bytes) -> None:
        target = self._target(relative)
        if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
            self.counts["unchanged"] += 1
            return
        atomic_write_bytes(target, data)
        self.counts["written"] += 1

    def put_file(self, relative: str, source: Path, link: bool) -> None:
        target = self._target(relative)
        if target.is_file() and (
            os.path.samefile(target, source) if link else filecmp.cmp(target, source, False)
        ):
            self.counts["unchanged"] += 1
            return
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
        self.counts["written"] += 1

    def finish(self) -> None:
        """Remove the earlier export's files not written this time (and the folders that
        leaves empty), then record this export's files."""
        for relative in sorted(self.previous - self.current):
            path = self.dest / relative
            if path.is_file() and not path.is_symlink():
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
        write_json(self.dest / RECORD, {"files": sorted(self.current)})
