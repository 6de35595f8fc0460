"""Library API: restore every face in an image.

>>> from personframes.restore.api import restore_faces
>>> out = restore_faces(rgb, strength=0.8)   # same size as rgb

Models and the default detector are loaded once per process and shared
between threads; inference is serialised per engine by a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..models.catalogue import DEFAULT_MODEL, get_model
from ..types import FaceDetection, Image
from .align import (
    FFHQ_TEMPLATE_512,
    alignment_matrix,
    face_points,
    native_face_size,
    paste_face,
    warp_face,
)
from .engines.base import Device
from .restorer import FaceDetectorLike, FaceRestorer, default_detector
from .session import ModelSession


@dataclass
class FaceReport:
    """What happened to one face."""

    box: tuple[float, float, float, float]
    size: int  # side (px) of the aligned face that was restored
    fell_back: bool
    reason: str | None = None


@dataclass
class RestoreFacesResult:
    image: Image
    faces: list[FaceReport] = field(default_factory=list)


class FaceRestoration:
    """Restores all faces of images; holds its session, restorers and detector."""

    def __init__(
        self,
        session: ModelSession | None = None,
        detector: FaceDetectorLike | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        self.session = session if session is not None else ModelSession(cache_dir)
        self._detector = detector
        self._restorers: dict[tuple[str, str], FaceRestorer] = {}
        self._lock = threading.Lock()

    def detector(self) -> FaceDetectorLike:
        with self._lock:
            if self._detector is None:
                self._detector = default_detector()
            return self._detector

    def restorer(self, model: str, device: Device) -> FaceRestorer:
        with self._lock:
            key = (model, device)
            if key not in self._restorers:
                self._restorers[key] = FaceRestorer(model, device, session=self.session)
            return self._restorers[key]

    def restore(
        self,
        image: Image,
        strength: float = 0.8,
        model: str = DEFAULT_MODEL,
        device: Device = "auto",
        detector: FaceDetectorLike | None = None,
        faces: list[FaceDetection] | None = None,
    ) -> RestoreFacesResult:
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
        ):
            shape = getattr(image, "shape", None)
            raise InputError(f"expected an RGB uint8 HxWx3 image, got {shape}")
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"face restoration strength must be in [0, 1], got {strength}")
        spec = get_model(model)
        if faces is None:
            faces = (detector or self.detector()).detect(image)
        out = image.copy()
        reports: list[FaceReport] = []
        if strength == 0.0 or not faces:
            return RestoreFacesResult(out, reports)
        restorer = self.restorer(spec.id, device)
        for face in faces:
            points = face_points(face)
            box = (face.box.x1, face.box.y1, face.box.x2, face.box.y2)
            # Face models work on 512 px aligned faces; SR models restore the face at
            # its native size (so the output keeps the image's size).
            size = (spec.input_size or 512) if spec.kind == "face" else native_face_size(points)
            matrix = alignment_matrix(points, size)
            aligned = warp_face(image, matrix, size)
            result = restorer.restore_crop(
                aligned,
                size,
                strength,
                landmarks=FFHQ_TEMPLATE_512 * (size / 512.0),
                restore_large=True,
            )
            reports.append(FaceReport(box, size, result.fell_back, result.reason))
            if result.fell_back or result.image.shape[:2] != (size, size):
                continue
            out = paste_face(out, result.image, matrix, source_face=aligned)
        return RestoreFacesResult(out, reports)


_default: FaceRestoration | None = None
_default_lock = threading.Lock()


def default_restoration() -> FaceRestoration:
    """The process-wide FaceRestoration used by :func:`restore_faces`."""
    global _default
    with _default_lock:
        if _default is None:
            _default = FaceRestoration()
        return _default


def restore_faces(
    image_rgb: Image,
    strength: float = 0.8,
    model: str = DEFAULT_MODEL,
    device: Device = "auto",
    detector: FaceDetectorLike | None = None,
) -> Image:
    """Restore every face in ``image_rgb`` (RGB uint8) and return an image of the same size.

    Faces are found with ``detector`` (default: CenterFace), aligned by their five
    landmarks, restored with ``model``, blended with the unrestored face by
    ``strength`` and pasted back with a feathered, colour-matched mask. A model that
    fails leaves its faces unchanged (one WARNING each).
    """
    return default_restoration().restore(image_rgb, strength, model, device, detector).image
