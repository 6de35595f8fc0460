"""The face-detector seam: an abstract base, and shared image/box helpers."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from ..resize import shrink_to_fit
from ..types import Box, FaceDetection, Image, Point, as_rgb


class FaceDetector(abc.ABC):
    """Finds faces in one RGB ``uint8`` image.

    ``detect`` returns boxes and keypoints in the input image's pixel
    coordinates, sorted by score (highest first), each tagged with ``NAME``.
    Instances hold an inference session and are not thread-safe: use one
    detector per thread.
    """

    NAME: str
    device_fallback: str | None = None  # why the CPU runs it although a GPU was asked for

    @abc.abstractmethod
    def detect(self, image: Image) -> list[FaceDetection]:
        """Faces in ``image`` (RGB, uint8, HxWx3)."""


# A face at least this fraction of the frame's height is "large": the coarse pass adds
# such faces, which detectors trained on smaller faces miss at full resolution.
LARGE_FACE = 0.25


class DownscalingFaceDetector(FaceDetector):
    """Base for detectors that see the image downscaled to ``max_side``.

    Subclasses implement ``_detect_scaled`` on the (possibly) smaller RGB image;
    this class converts the input to 3-channel RGB, downscales it, maps the
    results back to full-resolution coordinates and sorts them. With ``coarse_side``,
    a second pass on the image shrunk to that side adds the large faces (a quarter of
    the frame's height or more) the first pass missed: close-ups that fill the frame.
    """

    def __init__(self, *, confidence: float, max_side: int, coarse_side: int | None = None) -> None:
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {confidence}")
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32, got {max_side}")
        self.confidence = confidence
        self.max_side = max_side
        self.coarse_side = coarse_side

    def detect(self, image: Image) -> list[FaceDetection]:
        rgb = as_rgb(image)
        found = self._at(rgb, self.max_side)
        height = rgb.shape[0]
        coarse = self.coarse_side
        if coarse is not None and coarse < min(self.max_side, max(rgb.shape[:2])):
            for face in self._at(rgb, coarse):
                large = face.box.height >= LARGE_FACE * height
                if large and all(overlap_of_smaller(face.box, f.box) < 0.5 for f in found):
                    found.append(face)
        return sorted(found, key=lambda d: d.score, reverse=True)

    def _at(self, rgb: Image, side: int) -> list[FaceDetection]:
        """Faces found on ``rgb`` shrunk to ``side``, in ``rgb``'s pixels."""
        small = shrink_to_fit(rgb, side, area=True)
        found = self._detect_scaled(small)
        height, width = rgb.shape[:2]
        if small.shape[:2] != rgb.shape[:2]:
            fx, fy = width / small.shape[1], height / small.shape[0]
            found = [rescale(d, fx, fy) for d in found]
        clipped = [replace(d, box=d.box.clip(width, height)) for d in found]
        return [d for d in clipped if d.box.width > 0 and d.box.height > 0]

    @abc.abstractmethod
    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        """Faces in an RGB image whose longest side is at most ``max_side``."""


class SingleModelDetector(DownscalingFaceDetector):
    """A detector that runs one model file: subclasses load it in ``_load`` (from
    ``model_path``, default the catalogue's file, on ``device``) and set
    ``device_fallback`` from the device rule."""

    def __init__(
        self,
        *,
        confidence: float = 0.4,
        max_side: int = 640,
        device: str = "cpu",
        model_path: Path | None = None,
        coarse_side: int | None = None,
    ) -> None:
        super().__init__(confidence=confidence, max_side=max_side, coarse_side=coarse_side)
        self._load(model_path, device)

    @abc.abstractmethod
    def _load(self, model_path: Path | None, device: str) -> None:
        """Load the model; ``ModelError`` naming the file when it cannot be."""


def rescale(detection: FaceDetection, fx: float, fy: float) -> FaceDetection:
    """The detection with x coordinates multiplied by ``fx`` and y by ``fy``."""
    box = detection.box
    return replace(
        detection,
        box=Box(box.x1 * fx, box.y1 * fy, box.x2 * fx, box.y2 * fy),
        keypoints={k: (x * fx, y * fy) for k, (x, y) in detection.keypoints.items()},
    )


def iou(a: Box, b: Box) -> float:
    """Intersection over union."""
    return a.iou(b)


def overlap_of_smaller(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area (1.0 when one box contains the other)."""
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    smaller = min(a.area, b.area)
    return ix * iy / smaller if smaller > 0 else 0.0


def nms_groups(
    boxes: Sequence[Box],
    scores: Sequence[float],
    threshold: float,
    overlap: Callable[[Box, Box], float] = iou,
) -> list[list[int]]:
    """Greedy NMS: groups of indices, each led by its highest-scoring box.

    A box joins the first (higher-scoring) leader it overlaps with
    ``overlap(leader, box) >= threshold`` (IoU by default).
    """
    order = sorted(range(len(boxes)), key=lambda i: scores[i], reverse=True)
    groups: list[list[int]] = []
    for i in order:
        for group in groups:
            if overlap(boxes[group[0]], boxes[i]) >= threshold:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def named_points(names: Iterable[str], points: Iterable[Point]) -> dict[str, Point]:
    """Zip keypoint names with (x, y) points, as plain floats."""
    return {name: (float(x), float(y)) for name, (x, y) in zip(names, points, strict=True)}
