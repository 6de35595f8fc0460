"""dlib's HOG frontal face detector, with dlib's 5-point landmarks for the eyes, CPU.

The detector (a HOG + linear SVM sliding window, five sub-detectors: frontal, turned
left or right, tilted left or right) is built into dlib: no model file. Its keypoints
come from dlib's 5-point shape predictor, the CC0 file the face identity model already
aligns by (catalogue entry ``dlib-face-resnet-v1``, bundled): two corners of each eye
and the base of the nose. Each eye's keypoint is the midpoint of its two corners; the
nose point is ``nose_base`` (below the tip: not the ``nose`` tip that head pose reads),
and there are no mouth corners. So restoration aligns these faces from their box, as
it does MediaPipe's (``restore/align.face_points``), and head pose falls back to no
keypoints where the face mesh is unsure.

Its boxes are square, from the eyebrows to the chin: shorter than CenterFace's, which
reach the forehead. It finds frontal faces of about 40 px and more (the image is
upsampled once) and misses profiles. Its SVM margin m becomes a score in (0, 1) as
1 / (1 + e^-m): dlib's own threshold (m = 0) is a confidence of 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..devices import choose_device
from ..errors import ModelError
from ..models.cache import model_file
from ..types import Box, FaceDetection, Image
from .base import SingleModelDetector
from .face_identity import MODEL_ID, SHAPE_FILE

UPSAMPLE = 1  # the HOG window is 80 px: once upsampled, faces from 40 px are found
# dlib's 5-point order: the viewer's right eye (outer, inner corner), the viewer's left
# eye (outer, inner corner), the base of the nose.
_RIGHT_EYE = (0, 1)
_LEFT_EYE = (2, 3)
_NOSE_BASE = 4
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose_base")


def _cpu_only() -> str:
    return "this detector runs on the CPU only (dlib's HOG)"


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise ModelError(
            f"the dlib-hog face detector needs dlib: `pip install dlib-bin`: {exc}"
        ) from None
    return dlib


def _margin(confidence: float) -> float:
    """The SVM margin whose score is ``confidence`` (the inverse of the logistic)."""
    clipped = min(max(confidence, 1e-6), 1.0 - 1e-6)
    return math.log(clipped / (1.0 - clipped))


class DlibHogDetector(SingleModelDetector):
    """dlib's HOG frontal face detector; eyes and the base of the nose as keypoints."""

    NAME = "dlib-hog"

    def _load(self, model_path: Path | None, device: str) -> None:
        self.device_fallback = choose_device(device, self.NAME, _cpu_only).fallback
        dlib = _import_dlib()
        self.model_path = model_path if model_path is not None else model_file(MODEL_ID, SHAPE_FILE)
        try:
            self._shape = dlib.shape_predictor(str(self.model_path))
        except RuntimeError as exc:
            raise ModelError(f"cannot load dlib's 5-point model {self.model_path}: {exc}") from None
        self._hog = dlib.get_frontal_face_detector()

    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        rgb = np.ascontiguousarray(image)
        rects, margins, _ = self._hog.run(rgb, UPSAMPLE, _margin(self.confidence))
        return [self._face(rgb, rect, margin) for rect, margin in zip(rects, margins, strict=True)]

    def _face(self, rgb: Image, rect: Any, margin: float) -> FaceDetection:
        shape = self._shape(rgb, rect)
        points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
        return FaceDetection(
            # dlib's rectangles include their right and bottom pixels
            box=Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1),
            score=1.0 / (1.0 + math.exp(-margin)),
            keypoints=dict(
                zip(
                    KEYPOINT_NAMES,
                    (_mid(points, _LEFT_EYE), _mid(points, _RIGHT_EYE), points[_NOSE_BASE]),
                    strict=True,
                )
            ),
            detector=self.NAME,
        )


def _mid(points: list[tuple[float, float]], pair: tuple[int, int]) -> tuple[float, float]:
    (x1, y1), (x2, y2) = points[pair[0]], points[pair[1]]
    return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
