"""Library API: restore every face in an image.

>>> from personframes.restore.api import restore_faces
>>> out = restore_faces(rgb, strength=0.8)   # same size as rgb
>>> res = restore_faces(rgb, report=True)    # res.image, res.faces[i].record()

Models and the default detector are loaded once per process and shared
between threads; inference is serialised per engine by a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from ..errors import InputError
from ..models.catalogue import DEFAULT_MODEL, get_model
from ..types import FaceDetection, Image
from .align import (
    FFHQ_TEMPLATE_512,
    alignment_matrix,
    face_points,
    native_face_size,
    paste_face_into,
    warp_face,
)
from .engines.base import Device
from .policy import PolicyName
from .restorer import FaceDetectorLike, FaceRestorer, RestoreResult, default_detector, lanczos
from .session import ModelSession


@dataclass
class FaceReport:
    """What happened to one face: where it is and the restorer's per-face record."""

    box: tuple[float, float, float, float]  # in the input image's pixels
    size: int  # side (px) of the aligned face at the input's resolution
    result: RestoreResult

    @property
    def fell_back(self) -> bool:
        return self.result.fell_back

    @property
    def reason(self) -> str | None:
        return self.result.reason

    def record(self) -> dict[str, Any]:
        return {"box": [round(v, 1) for v in self.box], "aligned_px": self.size} | (
            self.result.record()
        )


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
        *,
        upscale: int = 1,
        policy: PolicyName = "auto",
    ) -> RestoreFacesResult:
        """Restore every face of ``image``; the result is ``upscale`` times larger.

        Each face is aligned at its native resolution and restored from those pixels to
        ``upscale`` times that size (the policy decides per face whether the model runs
        and at which strength, at most ``strength``); the rest of the image is resized
        with Lanczos. Faces the policy leaves alone are exactly the Lanczos resize.
        """
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
        if upscale < 1:
            raise InputError(f"upscale must be at least 1, got {upscale}")
        spec = get_model(model)
        height, width = image.shape[:2]
        out = lanczos(image, (width * upscale, height * upscale))
        if faces is None:
            faces = (detector or self.detector()).detect(image) if strength > 0 else []
        reports: list[FaceReport] = []
        restorer = self.restorer(spec.id, device)
        for face in faces:
            points = face_points(face)
            box = (face.box.x1, face.box.y1, face.box.x2, face.box.y2)
            size = native_face_size(points)
            aligned = warp_face(image, alignment_matrix(points, size), size)
            # Face models work on 512 px aligned faces; SR models restore the face from
            # its native pixels to ``upscale`` times that.
            target = size * upscale
            result = restorer.restore_crop(
                aligned,
                target,
                strength,
                landmarks=FFHQ_TEMPLATE_512 * (size / 512.0),
                face_px=face.box.height,  # the aligned face keeps the image's scale
                policy=policy,
            )
            reports.append(FaceReport(box, size, result))
            if not result.restored or result.image.shape[:2] != (target, target):
                continue
            matrix = alignment_matrix(points * upscale, target)
            source = warp_face(out, matrix, target)
            paste_face_into(out, result.image, matrix, source_face=source)
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


@overload
def restore_faces(
    image_rgb: Image,
    strength: float = ...,
    model: str = ...,
    device: Device = ...,
    detector: FaceDetectorLike | None = ...,
    *,
    upscale: int = ...,
    policy: PolicyName = ...,
    report: Literal[False] = ...,
) -> Image: ...


@overload
def restore_faces(
    image_rgb: Image,
    strength: float = ...,
    model: str = ...,
    device: Device = ...,
    detector: FaceDetectorLike | None = ...,
    *,
    upscale: int = ...,
    policy: PolicyName = ...,
    report: Literal[True],
) -> RestoreFacesResult: ...


def restore_faces(
    image_rgb: Image,
    strength: float = 0.8,
    model: str = DEFAULT_MODEL,
    device: Device = "auto",
    detector: FaceDetectorLike | None = None,
    *,
    upscale: int = 1,
    policy: PolicyName = "auto",
    report: bool = False,
) -> Image | RestoreFacesResult:
    """Restore every face in ``image_rgb`` (RGB uint8); the image comes back ``upscale``
    times larger (default: the same size).

    Faces are found with ``detector`` (default: CenterFace) and aligned by their five
    landmarks. Per face, the restoration policy (``policy="auto"``) decides from the
    face's size, the upscale factor and its measured blur whether ``model`` runs and
    at which strength (at most ``strength``); ``policy="always"`` runs it on every
    face at ``strength``. Restored faces are pasted back with a feathered,
    colour-matched mask; the rest is a Lanczos resize. A model that fails leaves its
    faces unchanged (one WARNING each). With ``report=True`` the result also holds,
    per face, what the policy decided and why (:class:`RestoreFacesResult`).
    """
    result = default_restoration().restore(
        image_rgb, strength, model, device, detector, upscale=upscale, policy=policy
    )
    return result if report else result.image
