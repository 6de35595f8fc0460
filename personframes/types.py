"""Typed values that flow between stages: frames, boxes, detections.

Images are always RGB ``uint8`` arrays of shape (H, W, 3), upright (rotation
metadata already applied). Coordinates are pixels in that upright frame,
x to the right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .errors import InputError

Image: TypeAlias = npt.NDArray[np.uint8]
Point: TypeAlias = tuple[float, float]


def check_rgb(image: Any, what: str = "image") -> Image:
    """``image`` when it is an RGB uint8 HxWx3 array with at least one pixel; otherwise
    ``InputError`` naming ``what`` (the one image check of the package)."""
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
        or image.shape[0] < 1
        or image.shape[1] < 1
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InputError(f"{what} must be an RGB uint8 HxWx3 array, got {dtype} {shape}")
    return image


def as_rgb(image: Any, what: str = "image") -> Image:
    """An RGB uint8 HxWx3 array from ``image``: a PIL image (any mode), or a uint8 array
    that is RGB, grey (HxW or HxWx1) or RGBA (alpha dropped); ``InputError`` otherwise."""
    from PIL import Image as PILImage

    if isinstance(image, PILImage.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim == 3 and image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
    return np.ascontiguousarray(check_rgb(image, what))


@dataclass(frozen=True)
class Box:
    """Axis-aligned box, x1/y1 inclusive top-left, x2/y2 exclusive bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> Point:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def contains(self, point: Point) -> bool:
        x, y = point
        return self.x1 <= x <= self.x2 and self.y1 <= y <= self.y2

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clip(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.x1, 0.0), width),
            min(max(self.y1, 0.0), height),
            min(max(self.x2, 0.0), width),
            min(max(self.y2, 0.0), height),
        )

    def as_xywh(self) -> list[float]:
        return [round(self.x1, 2), round(self.y1, 2), round(self.width, 2), round(self.height, 2)]


# Names of the five face keypoints, in the order used by face alignment
# (the ArcFace / FFHQ 5-point convention). "left"/"right" are as seen by the
# viewer: left_eye is the eye nearer the image's left edge.
FIVE_POINT_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class FaceDetection:
    """One face found in an image."""

    box: Box
    score: float
    keypoints: dict[str, Point] = field(default_factory=dict)
    detector: str = ""

    def five_points(self) -> npt.NDArray[np.float32] | None:
        """The 5 alignment points as a (5, 2) array, or None if any is missing."""
        if not all(name in self.keypoints for name in FIVE_POINT_NAMES):
            return None
        return np.array([self.keypoints[n] for n in FIVE_POINT_NAMES], dtype=np.float32)


@dataclass(frozen=True)
class Frame:
    """One decoded, upright video frame."""

    index: int  # 0-based position in decode order
    time_s: float  # presentation time in seconds (from pts)
    image: Image
    is_keyframe: bool = False

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
