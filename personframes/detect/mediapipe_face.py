"""MediaPipe face detection (legacy ``mp.solutions.face_detection`` API, CPU)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mediapipe as mp

from ..errors import ModelError
from ..types import Box, FaceDetection, Image
from .base import DownscalingFaceDetector, named_points

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
_MODEL_DIR = Path(mp.__file__).resolve().parent / "modules" / "face_detection"
_warned: set[str] = set()


class MediaPipeFaceDetector(DownscalingFaceDetector):
    """Base for the two MediaPipe models; subclasses pick the model."""

    MODEL_SELECTION: int
    MODEL_FILE: str

    def __init__(
        self, *, confidence: float = 0.4, max_side: int = 640, device: str = "cpu"
    ) -> None:
        super().__init__(confidence=confidence, max_side=max_side)
        if device not in ("cpu", "gpu", "auto"):
            raise ValueError(f"unknown device {device!r}: expected cpu, gpu or auto")
        if device == "gpu" and self.NAME not in _warned:
            _warned.add(self.NAME)
            log.warning(
                "%s: GPU requested but mediapipe's Python solutions run on the CPU only; "
                "using the CPU",
                self.NAME,
            )
        self.model_path = _MODEL_DIR / self.MODEL_FILE
        if not self.model_path.is_file():
            raise ModelError(f"{self.NAME}: model file {self.model_path} not found")
        try:
            self._solution = mp.solutions.face_detection.FaceDetection(
                min_detection_confidence=confidence, model_selection=self.MODEL_SELECTION
            )
        except RuntimeError as exc:
            raise ModelError(f"{self.NAME}: cannot load model {self.model_path}: {exc}") from exc

    def close(self) -> None:
        """Release the MediaPipe graph (also done when garbage-collected)."""
        self._solution.close()

    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        height, width = image.shape[:2]
        result = self._solution.process(image)
        detections = result.detections or []
        return [self._convert(d, width, height) for d in detections]

    def _convert(self, detection: Any, width: int, height: int) -> FaceDetection:
        data = detection.location_data
        rel = data.relative_bounding_box
        box = Box(
            rel.xmin * width,
            rel.ymin * height,
            (rel.xmin + rel.width) * width,
            (rel.ymin + rel.height) * height,
        )
        points = [(kp.x * width, kp.y * height) for kp in data.relative_keypoints]
        return FaceDetection(
            box=box,
            score=float(detection.score[0]),
            keypoints=named_points(KEYPOINT_NAMES[: len(points)], points),
            detector=self.NAME,
        )


class MediaPipeFullRange(MediaPipeFaceDetector):
    """Full-range model (faces up to about 5 m away); finds smaller faces."""

    NAME = "mediapipe-full"
    MODEL_SELECTION = 1
    MODEL_FILE = "face_detection_full_range_sparse.tflite"


class MediaPipeShortRange(MediaPipeFaceDetector):
    """Short-range model (faces within about 2 m); fastest, large faces only."""

    NAME = "mediapipe-short"
    MODEL_SELECTION = 0
    MODEL_FILE = "face_detection_short_range.tflite"
