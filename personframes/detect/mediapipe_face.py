"""MediaPipe's face detectors (BlazeFace short / full range) on LiteRT, CPU.

The bundled ``.tflite`` files run through ``blazeface.BlazeFace``, a port of
mediapipe 0.10.21's face detection graphs (letterbox, SSD anchors, weighted
non-maximum suppression); results match ``mp.solutions.face_detection`` to a
fraction of a pixel (``tests/test_face_parity.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..devices import choose_device
from ..types import Box, FaceDetection, Image
from .base import SingleModelDetector, named_points
from .blazeface import FULL_RANGE, SHORT_RANGE, BlazeFace, BlazeFaceSpec, RawFace

log = logging.getLogger(__name__)

# MediaPipe's keypoints are the person's own right/left (RIGHT_EYE = index 0 is
# the eye nearer the viewer's left edge in an unmirrored image). Names here are
# as seen by the viewer, matching ``personframes.types.FIVE_POINT_NAMES``.
KEYPOINT_NAMES: tuple[str, ...] = (
    "left_eye",  # RIGHT_EYE
    "right_eye",  # LEFT_EYE
    "nose",  # NOSE_TIP
    "mouth",  # MOUTH_CENTER
    "left_ear",  # RIGHT_EAR_TRAGION
    "right_ear",  # LEFT_EAR_TRAGION
)


def _cpu_only() -> str:
    return "this model runs on the CPU only (LiteRT)"


class MediaPipeFaceDetector(SingleModelDetector):
    """Base for the two MediaPipe models; subclasses pick the model.

    The minimum score is ``max(confidence, SPEC.graph_min_score)``: mediapipe's graphs
    keep their own threshold (0.5 short range, 0.6 full range) whatever
    ``min_detection_confidence`` the legacy Python API was given (mediapipe issue
    3896), and below it these models mostly add false boxes on bodies and hair. So the
    default confidence (0.4) gives exactly what the project got from mediapipe, and a
    higher one now takes effect.
    """

    SPEC: BlazeFaceSpec
    MODEL_SELECTION: int  # mediapipe's model_selection for the same model

    def _load(self, model_path: Path | None, device: str) -> None:
        self.device_fallback = choose_device(device, self.NAME, _cpu_only).fallback
        self._model = BlazeFace(self.SPEC, who=self.NAME, model_path=model_path)
        self.model_path = self._model.model_path
        self.min_score = max(self.confidence, self.SPEC.graph_min_score)

    def close(self) -> None:
        """Nothing to release (kept for callers of the former mediapipe graph)."""

    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        height, width = image.shape[:2]
        return [
            self._convert(face, width, height) for face in self._model.detect(image, self.min_score)
        ]

    def _convert(self, face: RawFace, width: int, height: int) -> FaceDetection:
        x1, y1, x2, y2 = face.box
        points = [(x * width, y * height) for x, y in face.keypoints]
        return FaceDetection(
            box=Box(x1 * width, y1 * height, x2 * width, y2 * height),
            score=face.score,
            keypoints=named_points(KEYPOINT_NAMES[: len(points)], points),
            detector=self.NAME,
        )


class MediaPipeFullRange(MediaPipeFaceDetector):
    """Full-range model (faces up to about 5 m away); finds smaller faces."""

    NAME = "mediapipe-full"
    SPEC = FULL_RANGE
    MODEL_SELECTION = 1


class MediaPipeShortRange(MediaPipeFaceDetector):
    """Short-range model (faces within about 2 m); fastest, large faces only."""

    NAME = "mediapipe-short"
    SPEC = SHORT_RANGE
    MODEL_SELECTION = 0
