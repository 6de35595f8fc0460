"""Crop boxes: padding, fixed aspect ratios, kept inside the frame without distortion."""

from __future__ import annotations

from ..types import Box, Image

RATIOS: dict[str, float | None] = {"1:1": 1.0, "4:3": 4 / 3, "16:9": 16 / 9, "any": None}


def _fit_axis(start: float, length: float, limit: int) -> tuple[float, float]:
    """Shift [start, start+length) inside [0, limit); shrink only if longer than limit."""
    length = min(length, float(limit))
    start = min(max(start, 0.0), limit - length)
    return start, start + length


def crop_box(
    box: Box, frame_width: int, frame_height: int, padding: float, ratio: float | None = None
) -> Box:
    """Pad ``box`` by ``padding`` x its size on every side, optionally widen it to
    ``ratio`` (width / height; portrait boxes get the inverse so the longer
    side follows the subject), then shift it inside the frame.

    The box is never stretched: when it is larger than the frame it is cut
    to the frame, and with a fixed ratio it is reduced evenly to keep the
    ratio. Padding never invents pixels.
    """
    cx, cy = box.center
    w = box.width * (1 + 2 * padding)
    h = box.height * (1 + 2 * padding)
    if ratio is not None:
        r = ratio if w >= h else 1 / ratio
        if w / h < r:
            w = h * r
        else:
            h = w / r
        scale = min(1.0, frame_width / w, frame_height / h)
        w, h = w * scale, h * scale
    x1, x2 = _fit_axis(cx - w / 2, w, frame_width)
    y1, y2 = _fit_axis(cy - h / 2, h, frame_height)
    return Box(round(x1), round(y1), round(x2), round(y2))


def cut(image: Image, box: Box) -> Image:
    """The pixels of ``box`` (integer box inside the image)."""
    x1, y1, x2, y2 = (round(v) for v in (box.x1, box.y1, box.x2, box.y2))
    return image[y1:y2, x1:x2].copy()
