"""Image files for `personframes restore`: read any image Pillow opens as RGB uint8 plus
what writing it back needs, and write it back in the format its name asks for.

Every mode is brought to 8 bits by what its samples mean, never by Pillow's clipping
``convert("RGB")`` of wide integers: 16-bit data (``I;16*``, and ``I`` whose values fit
in 16 bits) keeps its top 8 bits, other ``I`` and ``F`` data is scaled from its own
range (``F`` within 0..1 is taken as normalised), ``1`` becomes 0/255, palettes and
CMYK (Adobe's inverted JPEGs included), YCbCr, LAB and HSV go through Pillow's own
conversions. Transparency (an alpha channel, or a palette's or colour key's) is kept as
a separate plane and written back where the format holds one; grey sources are written
back grey; the EXIF orientation is applied; an ICC profile is written back when the
written image is in the profile's colour space (RGB or grey, not CMYK).

The decoded image is converted in strips of rows into preallocated uint8 arrays, so
reading costs Pillow's decoded image plus the result, never a float or second full copy.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from .errors import InputError, OutputError
from .output.writer import atomic_file, save_pil
from .types import Image

Plane = npt.NDArray[np.uint8]  # HxW uint8: alpha, or the grey of a grey source

# File name suffix -> Pillow format written.
FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})  # Pillow writes BMP's alpha as padding
_GREY_FORMATS = frozenset({"PNG", "TIFF", "JPEG", "BMP"})  # Pillow writes grey WebP as RGB
_QUALITY = 95  # JPEG and WebP
_MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383}  # the most pixels a side their encoders write

_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"}) | _SIXTEEN_BIT
_PROFILE_SPACES = _GREY_MODES | {"RGB", "RGBA", "RGBa", "RGBX", "P", "PA"}
_STRIP_PIXELS = 1 << 22  # pixels converted at a time


@dataclass(frozen=True)
class ImageInfo:
    """What writing a restored image back needs to know about its source."""

    mode: str  # Pillow's mode of the file
    format: str | None  # Pillow's name of the file's format
    grey: bool  # no colour: written back grey
    icc_profile: bytes | None  # the profile of a grey or RGB source (None for CMYK etc.)
    # A JPEG source's quantisation tables and chroma subsampling: a JPEG written back
    # with them keeps the source's quality settings (None: not a JPEG).
    jpeg_qtables: dict[int, list[int]] | None = None
    jpeg_subsampling: int | None = None


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding its pixels."""

    format: str  # Pillow's name of the file's format
    width: int
    height: int


def probe_image(path: Path, max_pixels: int) -> ImageHeader:
    """Read ``path``'s header only: refuses (:class:`InputError`, one line naming the
    file) a missing, empty or unreadable file, a folder, a file that is not an image,
    and one of more than ``max_pixels`` pixels, in milliseconds and before any model
    loads. Truncated pixel data is found when :func:`read_image` decodes it."""
    _check_file(path)
    with _pillow_errors(path, "cannot read image header"), PILImage.open(path) as handle:
        _check_size(path, handle.size, max_pixels)
        return ImageHeader(str(handle.format), *handle.size)


@contextlib.contextmanager
def _pillow_errors(path: Path, failing: str) -> Iterator[None]:
    """Pillow's refusals as one InputError line naming ``path`` (``failing``: what could
    not be done, e.g. "cannot decode image")."""
    try:
        yield
    except PILImage.DecompressionBombError as exc:
        raise InputError(
            f"{path}: {exc} (Pillow's own limit, PIL.Image.MAX_IMAGE_PIXELS)"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image (no known image format)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow's decode failures
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: {failing} ({reason})") from None


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{path}: file is empty")


class ReadImage(NamedTuple):
    rgb: Image  # HxWx3 uint8, upright
    alpha: Plane | None  # HxW uint8 (255 = opaque), None when the source has none
    info: ImageInfo


def read_image(path: Path, max_pixels: int) -> ReadImage:
    """Decode ``path`` (any image Pillow reads; the first frame) into 8-bit RGB.

    Refuses, with one line naming the file (:class:`InputError`): a missing or empty
    file, a folder, a file that is not an image or is truncated, and an image of more
    than ``max_pixels`` pixels (checked from the header, before decoding). Pillow's own
    limit (``PIL.Image.MAX_IMAGE_PIXELS``, which warns at 1x and refuses at 2x) applies
    too where the caller left it on; `personframes restore` turns it off for this one.
    """
    _check_file(path)
    with _pillow_errors(path, "cannot decode image"), PILImage.open(path) as handle:
        _check_size(path, handle.size, max_pixels)
        handle.load()
        rgb, alpha, grey = _convert(path, handle)
        orientation = int(handle.getexif().get(_ORIENTATION_TAG, 1) or 1)
        mode, fmt = handle.mode, handle.format
        profile = handle.info.get("icc_profile") if mode in _PROFILE_SPACES else None
        qtables, subsampling = _jpeg_settings(handle)
    info = ImageInfo(
        mode,
        fmt,
        grey,
        profile if isinstance(profile, bytes) and profile else None,
        qtables,
        subsampling,
    )
    upright = None if alpha is None else _orient(alpha, orientation)
    return ReadImage(_orient(rgb, orientation), upright, info)


def _jpeg_settings(handle: PILImage.Image) -> tuple[dict[int, list[int]] | None, int | None]:
    """A JPEG's quantisation tables and subsampling (Pillow's codes), else (None, None)."""
    if handle.format != "JPEG":
        return None, None
    from PIL import JpegImagePlugin

    tables = getattr(handle, "quantization", None)
    if not tables:
        return None, None
    sampling = JpegImagePlugin.get_sampling(handle)
    return {int(k): list(v) for k, v in tables.items()}, (sampling if sampling >= 0 else None)


def _check_size(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    pixels = width * height
    if pixels > max_pixels:
        raise InputError(
            f"{path}: image has {pixels:,} pixels ({width} x {height}), over the limit of "
            f"{max_pixels:,}; raise it with --max-image-pixels {pixels} or "
            f"PERSONFRAMES_RESTORE__MAX_IMAGE_PIXELS={pixels}"
        )


def _convert(path: Path, handle: PILImage.Image) -> tuple[Image, Plane | None, bool]:
    """The decoded image as (RGB, alpha or None, grey), converted strip by strip."""
    width, height = handle.size
    mode = handle.mode
    wide = mode in _SIXTEEN_BIT or mode in ("I", "F")
    grey = mode in _GREY_MODES
    has_alpha = handle.has_transparency_data and not wide
    to_uint8 = _levels(path, handle) if wide else None
    target = ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")
    rgb: Image = np.empty((height, width, 3), np.uint8)
    alpha: Plane | None = np.empty((height, width), np.uint8) if has_alpha else None
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        strip = handle.crop((0, top, width, bottom))
        if to_uint8 is not None:
            values = to_uint8(np.asarray(strip))
        else:
            if strip.mode != target:
                strip = strip.convert(target)
            values = np.asarray(strip)
            if alpha is not None:
                alpha[top:bottom] = values[..., -1]
                values = values[..., 0] if grey else values[..., :3]
        rgb[top:bottom] = values[..., None] if grey else values
    return rgb, alpha, grey


def _levels(path: Path, handle: PILImage.Image) -> Callable[[npt.NDArray[Any]], Plane]:
    """How this 16-bit, 32-bit integer or float image's samples map onto 0..255."""
    extrema = cast(tuple[float, float], handle.getextrema())  # one band: (lowest, highest)
    lo, hi = float(extrema[0]), float(extrema[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"{path}: float image holds NaN or infinite values")
    if handle.mode in _SIXTEEN_BIT or (handle.mode == "I" and lo >= 0 and hi <= 65535):

        def shift(values: npt.NDArray[Any]) -> Plane:  # 16-bit data: its top 8 bits
            return (values.astype(np.uint32) >> 8).astype(np.uint8)

        return shift
    if handle.mode == "F" and lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0  # normalised float
    scale = 255.0 / (hi - lo) if hi > lo else 0.0

    def linear(values: npt.NDArray[Any]) -> Plane:  # the image's own range onto 0..255
        scaled = (values.astype(np.float64) - lo) * scale
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)

    return linear


_ORIENTATION_TAG = 0x0112


def _orient(array: npt.NDArray[np.uint8], orientation: int) -> npt.NDArray[np.uint8]:
    """``array`` turned upright by its EXIF orientation (as ``ImageOps.exif_transpose``)."""
    if orientation not in _ORIENTATIONS:
        return array
    return np.ascontiguousarray(_ORIENTATIONS[orientation](array))


_ORIENTATIONS: dict[int, Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]] = {
    2: lambda a: a[:, ::-1],  # mirrored
    3: lambda a: a[::-1, ::-1],  # upside down
    4: lambda a: a[::-1],  # mirrored vertically
    5: lambda a: a.swapaxes(0, 1),  # transposed
    6: lambda a: np.rot90(a, -1),  # turned a quarter clockwise
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # transversed
    8: lambda a: np.rot90(a, 1),  # turned a quarter anticlockwise
}


def output_format(dest: Path) -> str:
    """The Pillow format a file name asks for (PNG for an unknown suffix)."""
    return FORMATS.get(dest.suffix.lower(), "PNG")


def check_writable(dest: Path, width: int, height: int) -> None:
    """Refuse, before any work, a size that ``dest``'s format cannot hold."""
    fmt = output_format(dest)
    limit = _MAX_SIDE.get(fmt)
    if limit is not None and max(width, height) > limit:
        raise OutputError(
            f"{dest}: {width} x {height} is more than {fmt} holds ({limit} px a side); "
            "use a smaller --upscale"
        )


def write_like_source(dest: Path, rgb: Image, alpha: Plane | None, info: ImageInfo) -> None:
    """Encode ``rgb`` (and ``alpha``, resized to it by the caller) like its source, in
    the format ``dest``'s suffix asks for, straight into a temporary file renamed into
    place. Alpha is kept in PNG, WebP and TIFF (JPEG and BMP have none); grey sources
    are written grey where the format holds grey."""
    fmt = output_format(dest)
    grey = info.grey and fmt in _GREY_FORMATS
    planes: list[npt.NDArray[np.uint8]] = [_luma(rgb) if grey else rgb]
    if alpha is not None and fmt in _ALPHA_FORMATS:
        planes.append(alpha)
    pil = PILImage.fromarray(planes[0] if len(planes) == 1 else np.dstack(planes))
    del planes
    options: dict[str, Any] = {}
    if info.icc_profile is not None and grey == info.grey:
        options["icc_profile"] = info.icc_profile
    if fmt == "JPEG" and info.jpeg_qtables is not None:
        # The source's own tables (and subsampling, in colour): its quality settings.
        options["qtables"] = info.jpeg_qtables
        if info.jpeg_subsampling is not None and not grey:
            options["subsampling"] = info.jpeg_subsampling
    with atomic_file(dest) as handle:
        try:
            save_pil(handle, pil, fmt, _QUALITY, **options)
        except ValueError as exc:  # an encoder's refusal (OSError: atomic_file's to say)
            raise OutputError(f"{dest}: cannot write as {fmt} ({exc})") from exc


def _luma(rgb: Image) -> Plane:
    """Grey of an RGB image (BT.601; exact where R = G = B)."""
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), np.uint8)


@contextlib.contextmanager
def pillow_limit_off() -> Iterator[None]:
    """Pillow's decompression-bomb limit off inside; :func:`read_image`'s applies."""
    saved = PILImage.MAX_IMAGE_PIXELS
    PILImage.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        PILImage.MAX_IMAGE_PIXELS = saved
