"""Face detection: one class per model behind ``FaceDetector``, built by id.

Usage::

    detector = create_face_detector("centerface", max_side=640)
    faces = detector.detect(rgb_image)  # sorted by score, full-resolution pixels

Model modules are imported when a detector is first created, so listing the
ids (``FACE_DETECTORS``) does not load LiteRT or ONNX Runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import (  # the defaults live in the one table of settings
    DEFAULT_COARSE_SIDE,
    DEFAULT_CONFIDENCE,
    DEFAULT_FACE_DETECTOR,
    DEFAULT_MAX_SIDE,
    Config,
)
from ..models.session import ModelSession
from ..registry import Registry
from .base import FaceDetector

FaceDetectorFactory = Callable[..., FaceDetector]


@dataclass(frozen=True)
class DetectorEntry:
    """One registered detector: how to build it, and a one-line description."""

    factory: FaceDetectorFactory
    description: str = ""


# Each factory is called as factory(confidence=, max_side=, device=, coarse_side=).


def _centerface(**settings: Any) -> FaceDetector:
    from .centerface import CenterFaceDetector

    return CenterFaceDetector(**settings)


def _mediapipe_full(**settings: Any) -> FaceDetector:
    from .mediapipe_face import MediaPipeFullRange

    return MediaPipeFullRange(**settings)


def _mediapipe_short(**settings: Any) -> FaceDetector:
    from .mediapipe_face import MediaPipeShortRange

    return MediaPipeShortRange(**settings)


def _dlib_hog(**settings: Any) -> FaceDetector:
    from .dlib_hog import DlibHogDetector

    return DlibHogDetector(**settings)


def _centerface_mediapipe(**settings: Any) -> FaceDetector:
    from .combined import CombinedFaceDetector

    children = [_centerface(**settings), _mediapipe_full(**settings)]
    return CombinedFaceDetector("centerface+mediapipe", children, max_side=settings["max_side"])


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
        "dlib-hog",
        DetectorEntry(_dlib_hog, "dlib's HOG frontal faces (CPU), eyes and base of the nose"),
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
    coarse_side: int | None = None,
) -> FaceDetector:
    """Build face detector ``name`` (one of ``FACE_DETECTORS``).

    ``confidence`` is the minimum score; the image is downscaled so its longest
    side is at most ``max_side`` before inference (results are in full-resolution
    pixels); ``device`` is "cpu", "gpu" or "auto"; ``coarse_side``: also look for
    large faces on the image shrunk to this side. Raises ``UnknownIdError`` for
    an unknown name and ``ModelError`` if a model file cannot be loaded.
    """
    factory = REGISTRY.lookup(name).factory
    detector: FaceDetector = factory(
        confidence=confidence, max_side=max_side, device=device, coarse_side=coarse_side
    )
    return detector


def face_detector(
    session: ModelSession,
    name: str,
    *,
    confidence: float,
    max_side: int,
    device: str,
    coarse_side: int | None = None,
) -> FaceDetector:
    """Face detector ``name`` for the calling thread, made once per session and thread."""
    settings = {"confidence": confidence, "max_side": max_side, "coarse_side": coarse_side}

    def make() -> FaceDetector:
        detector = create_face_detector(name, device=device, **settings)  # type: ignore[arg-type]
        detector.detect(np.zeros((64, 64, 3), np.uint8))  # one-time native set-up
        return detector

    key = ("face_detector", name, *settings.values(), device, threading.get_ident())
    return session.cached(key, make)


def configured_face_detector(session: ModelSession, config: Config) -> FaceDetector:
    """The face detector the config's ``models`` section names, for the calling thread."""
    m = config.models
    return face_detector(
        session,
        m.face_detector,
        confidence=m.confidence,
        max_side=m.detector_max_side,
        device=m.device,
        coarse_side=m.detector_coarse_side,
    )


__all__ = [
    "DEFAULT_COARSE_SIDE",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_FACE_DETECTOR",
    "DEFAULT_MAX_SIDE",
    "FACE_DETECTORS",
    "REGISTRY",
    "DetectorEntry",
    "FaceDetector",
    "configured_face_detector",
    "create_face_detector",
    "face_detector",
]
