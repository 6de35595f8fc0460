"""Loaded models, created once per process and shared by every video of a run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

import cv2
import numpy as np

from ..config import Config
from ..native import silence_native_stderr
from ..types import Box, FaceDetection

if TYPE_CHECKING:
    from ..restore import FaceRestorer
    from .analysis import FrameAnalyzer

T = TypeVar("T")


class Sessions:
    """A cache of expensive objects (model sessions), keyed by what configures them.

    Passed to the steps explicitly rather than kept in a module global, so tests
    and library callers control the lifetime.
    """

    def __init__(self) -> None:
        self._items: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, factory: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._items:
                with silence_native_stderr():
                    self._items[key] = factory()
            item: T = self._items[key]
            return item

    def face_detector(self, name: str, confidence: float, max_side: int, device: str) -> Any:
        from ..detect import create_face_detector

        def make() -> Any:
            detector = create_face_detector(
                name, confidence=confidence, max_side=max_side, device=device
            )
            detector.detect(np.zeros((64, 64, 3), np.uint8))  # one-time native set-up
            return detector

        return self.get(("face_detector", name, confidence, max_side, device), make)

    def face_restorer(self, model_id: str, device: str, cache_dir: Any) -> FaceRestorer:
        """The restorer for face crops; its model loads on first use (once per process)."""
        from ..restore import FaceRestorer

        return self.get(
            ("face_restorer", model_id, device, str(cache_dir)),
            lambda: FaceRestorer(model_id, device=device, cache_dir=cache_dir),  # type: ignore[arg-type]
        )

    def frame_analyzer(self, config: Config) -> FrameAnalyzer:
        from .analysis import FrameAnalyzer

        def make() -> FrameAnalyzer:
            analyzer = FrameAnalyzer(config)
            # One-time native set-up of every model. mediapipe prints its notes on the
            # first person it finds; a drawn figure is one, so they come now, silenced.
            analyzer.analyze(*_stand_in_person())
            return analyzer

        key = ("frame_analyzer", config.section_hash("pose", "head_angle"))
        return self.get(key, make)


def _stand_in_person() -> tuple[np.ndarray, list[FaceDetection]]:
    """A drawn figure (head, body, arms, legs) on grey, and its face."""
    image = np.full((256, 256, 3), 200, np.uint8)
    skin, cloth, dark = (224, 172, 140), (60, 60, 160), (40, 40, 90)
    cv2.circle(image, (128, 50), 22, skin, -1)
    for eye_x in (120, 136):
        cv2.circle(image, (eye_x, 45), 3, (40, 40, 40), -1)
    cv2.ellipse(image, (128, 60), (8, 3), 0, 0, 180, (120, 40, 40), 2)
    cv2.rectangle(image, (100, 75), (156, 160), cloth, -1)
    for (x1, y1, x2, y2), colour, width in (
        ((100, 80, 70, 150), skin, 12),
        ((156, 80, 186, 150), skin, 12),
        ((112, 160, 105, 245), dark, 16),
        ((144, 160, 151, 245), dark, 16),
    ):
        cv2.line(image, (x1, y1), (x2, y2), colour, width)
    face = FaceDetection(
        Box(106, 28, 150, 72),
        1.0,
        {"left_eye": (136, 45), "right_eye": (120, 45), "nose": (128, 52)},
    )
    return image, [face]
