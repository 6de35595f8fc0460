"""Loaded models, created once per process and shared by every video of a run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..config import Config
from ..native import silence_native_stderr

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
            # One-time native set-up of every model, now rather than on the first frame.
            analyzer.analyze(np.zeros((64, 64, 3), np.uint8), [])
            return analyzer

        key = ("frame_analyzer", config.section_hash("pose", "head_angle"))
        return self.get(key, make)
