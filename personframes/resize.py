"""Resizing images: one module, one function per job.

``lanczos`` resizes to an exact size (outputs, restoration); ``shrink_to_fit`` brings
the longest side down to a limit and never enlarges: with Lanczos for what is
written, or with area averaging for what a detector sees (the filter the detectors'
recall was measured with).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image as PILImage

from .types import Image


def fit_longest(width: int, height: int, longest: int) -> tuple[int, int]:
    """(w, h) scaled so that the longest side is ``longest``, aspect kept."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# Pixels resized or blended at a time: large images are worked on in strips of rows,
# so that no float or Pillow copy of a whole image is ever made.
STRIP_PIXELS = 1 << 22


def lanczos(image: Image, size: tuple[int, int]) -> Image:
    """PIL Lanczos resize of an HxWx3 (or HxW) uint8 image to (width, height), as a new
    writable array.

    Outputs over STRIP_PIXELS are resized in strips of rows, each from its source rows
    plus the filter's reach: the same pixels as one whole-image resize for integer
    factors (other factors may differ by one level on a few pixels), without Pillow's
    copies of the whole image.
    """
    width, height = size
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == size:
        return image.copy()
    filt = PILImage.Resampling.LANCZOS
    reach = math.ceil(3 * max(1.0, src_h / height)) + 2  # Lanczos-3 support, source rows
    result: Image = np.empty((height, width, *image.shape[2:]), np.uint8)
    rows = max(1, STRIP_PIXELS // width)
    for out_top in range(0, height, rows):
        out_bottom = min(out_top + rows, height)
        y0, y1 = out_top * src_h / height, out_bottom * src_h / height  # exact at the ends
        top, bottom = max(0, math.floor(y0) - reach), min(src_h, math.ceil(y1) + reach)
        piece = PILImage.fromarray(image[top:bottom])
        box = (0.0, y0 - top, float(src_w), y1 - top)
        result[out_top:out_bottom] = np.asarray(
            piece.resize((width, out_bottom - out_top), filt, box=box)
        )
    return result


def shrink_to_fit(image: Image, longest: int | None, *, area: bool = False) -> Image:
    """``image`` with its longest side at most ``longest`` (``image`` itself when it
    already fits, or ``longest`` is None); Lanczos, or area averaging with ``area``."""
    height, width = image.shape[:2]
    if longest is None or max(height, width) <= longest:
        return image
    size = fit_longest(width, height, longest)
    if area:
        return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    return lanczos(image, size)
