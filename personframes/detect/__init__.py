"""Face detection: one class per model behind ``FaceDetector``, built by id.

Usage::

    detector = create_face_detector("centerface", max_side=640)
    faces = detector.detect(rgb_image)  # sorted by score, full-resolution pixels

Model modules are imported when a detector is first created, so listing the
ids (``FACE_DETECTORS``) does not load LiteRT or ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..registry import Registry
from .base import FaceDetector

# Chosen by bench/detect_recall.py on the labelled frames: CenterFace at 640 px finds
# 24/26 sitting_window (mostly profile) and 15/18 stage_performer main faces with no
# false detection; adding MediaPipe full-range gains one hair-covered profile and adds
# false boxes on the body; 960 px is no better, and native size (26/26, two of them
# just above the threshold) costs 4-7x the time on the 1280 px video.
DEFAULT_FACE_DETECTOR = "centerface"
DEFAULT_MAX_SIDE = 640
DEFAULT_CONFIDENCE = 0.4


# Called as factory(confidence=..., max_side=..., device=...).
FaceDetectorFactory = Callable[..., FaceDetector]


@dataclass(frozen=True)
class DetectorEntry:
    """One registered detector: how to build it, and a one-line description."""

    factory: FaceDetectorFactory
    description: str = ""


def _centerface(*, confidence: float, max_side: int, device: str) -> FaceDetector:
    from .centerface import CenterFaceDetector

    return CenterFaceDetector(confidence=confidence, max_side=max_side, device=device)


def _mediapipe_full(*, confidence: float, max_side: int, device: str) -> FaceDetector:
    from .mediapipe_face import MediaPipeFullRange

    return MediaPipeFullRange(confidence=confidence, max_side=max_side, device=device)


def _mediapipe_short(*, confidence: float, max_side: int, device: str) -> FaceDetector:
    from .mediapipe_face import MediaPipeShortRange

    return MediaPipeShortRange(confidence=confidence, max_side=max_side, device=device)


def _centerface_mediapipe(*, confidence: float, max_side: int, device: str) -> FaceDetector:
    from .combined import CombinedFaceDetector

    children = [
        _centerface(confidence=confidence, max_side=max_side, device=device),
        _mediapipe_full(confidence=confidence, max_side=max_side, device=device),
    ]
    return CombinedFaceDetector("centerface+mediapipe", children, max_side=max_side)


def _build_registry() -> Registry[DetectorEntry]:
    registry: Registry[DetectorEntry] = Registry("face detector")
    registry.register(
        "centerface", DetectorEntry(_centerface, "CenterFace (ONNX Runtime), 5 landmarks")
    )
    registry.register(
        "mediapipe-full",
        DetectorEntry(_mediapipe_full, "MediaPipe full-range (LiteRT, CPU), 6 keypoints"),
    )
    registry.register(
        "mediapipe-short",
        DetectorEntry(_mediapipe_short, "MediaPipe short-range (LiteRT, CPU), large faces only"),
    )
    registry.register(
        "centerface+mediapipe",
        DetectorEntry(
            _centerface_mediapipe,
            "CenterFace and MediaPipe full-range, merged by IoU (CenterFace boxes win)",
        ),
    )
    return registry


REGISTRY = _build_registry()
FACE_DETECTORS: tuple[str, ...] = REGISTRY.ids


def create_face_detector(
    name: str,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    max_side: int = DEFAULT_MAX_SIDE,
    device: str = "cpu",
) -> FaceDetector:
    """Build face detector ``name`` (one of ``FACE_DETECTORS``).

    ``confidence`` is the minimum score; the image is downscaled so its longest
    side is at most ``max_side`` before inference (results are in full-resolution
    pixels); ``device`` is "cpu", "gpu" or "auto". Raises ``UnknownIdError`` for
    an unknown name and ``ModelError`` if a model file cannot be loaded.
    """
    factory = REGISTRY.lookup(name).factory
    detector: FaceDetector = factory(confidence=confidence, max_side=max_side, device=device)
    return detector


__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_FACE_DETECTOR",
    "DEFAULT_MAX_SIDE",
    "FACE_DETECTORS",
    "REGISTRY",
    "DetectorEntry",
    "FaceDetector",
    "create_face_detector",
]
