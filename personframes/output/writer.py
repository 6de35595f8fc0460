"""Atomic file writes: write to a temporary name in the target folder, then rename."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from PIL import Image as PILImage

from ..errors import DiskFullError, OutputError
from ..types import Image

TEMP_PREFIX = ".pf-tmp-"
FOREIGN_TEMP_AGE_S = 3600.0


@functools.cache
def _file_mode() -> int:
    """Mode a plain ``open()`` would give a new file (0666 less the umask), found once.

    The umask is read from ``/proc/self/status`` where there is one: setting it to read
    it back (the only portable way) would, for that instant, change it for every
    thread of the process."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_beside(path: Path) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(prefix=owned_prefix(), suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create files ({exc.strerror or exc})") from exc


@contextlib.contextmanager
def _renamed_into_place(tmp: str, path: Path) -> Iterator[None]:
    """``tmp`` renamed to ``path`` when the block ends without an error, deleted when it
    raises; errors of the file system become OutputError / DiskFullError."""
    try:
        yield
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if not isinstance(exc, OSError):
            raise
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"{path}: no space left on device; free space and rerun") from exc
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path``'s new content into; renamed into place when the block
    ends without an error (readers see the old file or the whole new one), deleted
    when it raises. Errors of the file system become OutputError / DiskFullError."""
    fd, tmp = _temp_beside(path)
    with _renamed_into_place(tmp, path), os.fdopen(fd, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """``atomic_file`` for writers that open their file by name (a muxer that goes back
    to rewrite its file): a temporary name beside ``path``, synced and renamed into
    place when the block ends without an error, deleted when it raises."""
    fd, tmp = _temp_beside(path)
    with _renamed_into_place(tmp, path):
        os.close(fd)
        yield Path(tmp)
        descriptor = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    with atomic_file(path) as handle:
        handle.write(data)


# Output format name (config ``output.format``) -> Pillow's.
PIL_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def save_pil(handle: IO[bytes], pil: PILImage.Image, fmt: str, quality: int, **extra: Any) -> None:
    """The one image encoder: ``pil`` into ``handle`` as Pillow format ``fmt``. JPEG
    keeps full colour resolution at quality 90 and above; PNG uses zlib level 6; JPEG
    and WebP take ``quality``; ``extra`` (e.g. ``icc_profile``) goes to Pillow. A JPEG
    given ``qtables`` (a source's own) is written with them unscaled, not ``quality``."""
    options = dict(extra)
    if fmt == "JPEG" and "qtables" in options:
        options.setdefault("subsampling", 0)
    elif fmt == "JPEG":
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "WEBP":
        options.update(quality=quality)
    elif fmt == "PNG":
        options.update(compress_level=6)
    pil.save(handle, format=fmt, **options)


def encode_image(image: Image, fmt: str, quality: int, *, png_optimize: bool = False) -> bytes:
    """``image`` encoded as output format ``fmt`` (jpg, png, webp)."""
    buffer = io.BytesIO()
    extra = {"optimize": True} if png_optimize and fmt == "png" else {}
    save_pil(buffer, PILImage.fromarray(image), PIL_FORMATS[fmt], quality, **extra)
    return buffer.getvalue()


def write_image(
    path: Path, image: Image, fmt: str, quality: int, *, png_optimize: bool = False
) -> None:
    atomic_write_bytes(path, encode_image(image, fmt, quality, png_optimize=png_optimize))


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())


def write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def ensure_output_dir(path: Path) -> None:
    """Create ``path`` if needed and prove it is writable, or raise OutputError."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: output path exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot create output directory ({exc.strerror or exc})"
        ) from exc
    if not path.is_dir():
        raise OutputError(f"{path}: output path exists and is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=owned_prefix(), dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"{path}: output directory is not writable ({exc.strerror or exc})"
        ) from exc


def check_output_dir(path: Path) -> None:
    """OutputError unless ``path`` is a writable folder or could be created as one;
    creates nothing (a run whose inputs are all rejected leaves no trace)."""
    if path.exists():
        if not path.is_dir():
            raise OutputError(f"{path}: output path exists and is not a directory")
        ensure_output_dir(path)
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot create output directory (no write access to {parent})")


def owned_prefix() -> str:
    """``.pf-tmp-PID@HOST~``: whose temporary file it is, so that a run starting while
    another writes into the same folder (shards, Ray) removes only what dead runs left."""
    return f"{TEMP_PREFIX}{os.getpid()}@{socket.gethostname()}~"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _stale(name: str, age_s: float) -> bool:
    """Whether a temporary file's writer is gone: a process of this host no longer
    running, or (another host's, whose processes cannot be asked) an hour old."""
    owner, sep, _ = name[len(TEMP_PREFIX) :].partition("~")
    pid, at, host = owner.partition("@")
    if not (sep and at and pid.isdigit()):
        return True  # an earlier version's
    if host == socket.gethostname():
        return not _alive(int(pid))
    return age_s > FOREIGN_TEMP_AGE_S


def remove_stale_temp_files(folder: Path, recursive: bool = False) -> int:
    """Delete the temporary files killed runs left in ``folder`` (a real folder) and,
    ``recursive``, in every folder below it; return how many. Only regular files are
    removed, and links to folders are never followed."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    removed += remove_stale_temp_files(Path(entry.path), recursive)
            elif (
                entry.name.startswith(TEMP_PREFIX)
                and entry.is_file(follow_symlinks=False)
                and _stale(entry.name, now - entry.stat(follow_symlinks=False).st_mtime)
            ):
                os.unlink(entry.path)
                removed += 1
    return removed
