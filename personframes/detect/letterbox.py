"""Letterboxing as mediapipe does it, and its removal (BlazeFace and BlazePose ports).

Owns mediapipe's ``ImageToTensorCalculator`` with ``keep_aspect_ratio`` on its OpenCV
converter: a region of interest (:class:`Roi`, mediapipe's ``NormalizedRect``) padded to
the tensor's aspect ratio (``PadRoi``), its corners from ``cv2.boxPoints`` mapped onto the
tensor's corners by ``cv2.getPerspectiveTransform``, the uint8 image warped bilinearly
with ``cv2.warpPerspective`` and scaled to the tensor's value range. The padding it
leaves (:class:`Letterbox`) is what ``DetectionLetterboxRemovalCalculator`` and
``LandmarkLetterboxRemovalCalculator`` take off again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..types import Image

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Roi:
    """mediapipe's NormalizedRect: centre and size normalised to the image, rotation in
    radians (positive = clockwise in image view)."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float


WHOLE_IMAGE = Roi(0.5, 0.5, 1.0, 1.0, 0.0)  # the ROI a graph uses without a rect input


@dataclass(frozen=True)
class Letterbox:
    """The padding a keep-aspect-ratio tensor got: on the left and on the right each
    ``horizontal``, on the top and at the bottom each ``vertical`` (fractions of the
    tensor's width / height)."""

    horizontal: float
    vertical: float

    @property
    def x_scale(self) -> float:
        """The ROI's share of the tensor's width."""
        return 1.0 - 2 * self.horizontal

    @property
    def y_scale(self) -> float:
        """The ROI's share of the tensor's height."""
        return 1.0 - 2 * self.vertical

    def remove(
        self, x: npt.NDArray[Any], y: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """Positions normalised to the tensor -> normalised to the ROI (same dtype)."""
        return (x - self.horizontal) / self.x_scale, (y - self.vertical) / self.y_scale


def pad_roi(roi: Roi, width: int, height: int) -> tuple[Roi, Letterbox]:
    """``PadRoi`` with keep_aspect_ratio for a square tensor on a ``width`` x ``height``
    image: the ROI grown to the tensor's aspect ratio, and the padding that leaves."""
    roi_w, roi_h = roi.width * width, roi.height * height
    tensor_ratio = 1.0  # square tensors only
    roi_ratio = roi_h / roi_w
    horizontal = vertical = 0.0
    if tensor_ratio > roi_ratio:
        new_w, new_h = roi_w, roi_w * tensor_ratio
        vertical = (1.0 - roi_ratio / tensor_ratio) / 2.0
    else:
        new_w, new_h = roi_h / tensor_ratio, roi_h
        horizontal = (1.0 - tensor_ratio / roi_ratio) / 2.0
    padded = Roi(roi.x_center, roi.y_center, new_w / width, new_h / height, roi.rotation)
    return padded, Letterbox(horizontal, vertical)


def roi_transform(roi: Roi, width: int, height: int, tensor: int) -> npt.NDArray[np.float64]:
    """3 x 3 matrix taking image px to tensor px for the (already padded) ``roi``, as
    mediapipe builds it: ``cv2.boxPoints`` corners mapped onto the tensor's corners by
    ``cv2.getPerspectiveTransform`` (an affine map, up to float rounding)."""
    rotated = (
        (roi.x_center * width, roi.y_center * height),
        (roi.width * width, roi.height * height),
        math.degrees(roi.rotation),
    )
    src = cv2.boxPoints(rotated).astype(np.float32)
    size = float(tensor)
    dst = np.array([[0.0, size], [0.0, 0.0], [size, 0.0], [size, size]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, dst), dtype=np.float64)


def image_to_tensor(
    image: Image,
    roi: Roi,
    tensor: int,
    value_range: tuple[float, float],
    border: int,
) -> tuple[FloatArray, Letterbox]:
    """``ImageToTensorCalculator`` (keep_aspect_ratio): the ROI of an RGB uint8 image
    warped into a ``tensor`` x ``tensor`` float tensor (1 x H x W x 3) in
    ``value_range``, with ``border`` (a ``cv2.BORDER_*``) outside the image, and the
    letterbox padding it left."""
    height, width = image.shape[:2]
    padded, letterbox = pad_roi(roi, width, height)
    matrix = roi_transform(padded, width, height, tensor)
    # warpPerspective as mediapipe calls it: warpAffine with the same matrix rounds its
    # sample positions differently and moves landmarks ~2x further from mediapipe's.
    warped = cv2.warpPerspective(
        image,
        matrix,
        (tensor, tensor),
        flags=cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=(0, 0, 0),
    )
    low, high = value_range
    scale = (high - low) / 255.0
    out = warped.astype(np.float32) * np.float32(scale) + np.float32(low)
    return out[np.newaxis], letterbox
