"""Library API: restore every face in an image.

>>> from personframes.restore.api import restore_faces
>>> out = restore_faces(rgb)                 # same size as rgb (a PIL image: PIL back)
>>> out = restore_faces(rgb, RestorationSettings(strength=0.5, upscale=2))
>>> res = restore_faces(rgb, report=True)    # res.image, res.faces[i].record()

Models are loaded through a :class:`~personframes.models.session.ModelSession`: pass
one (``session=``) to keep them loaded from call to call; without one, each call
loads what it needs. Engines are shared between threads (their runs serialised);
each thread gets its own face detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from PIL import Image as PILImage

from ..detect import (
    DEFAULT_COARSE_SIDE,
    DEFAULT_CONFIDENCE,
    DEFAULT_FACE_DETECTOR,
    DEFAULT_MAX_SIDE,
    face_detector,
)
from ..devices import Device
from ..models.session import ModelSession
from ..resize import lanczos
from ..types import FaceDetection, Image, as_rgb, check_rgb
from .align import (
    FFHQ_TEMPLATE_512,
    alignment_matrix,
    face_points,
    native_face_size,
    paste_face_into,
    warp_face,
)
from .restorer import FaceDetectorLike, RestoreResult, create_restorer
from .settings import RestorationSettings


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
    """Restores all faces of images with the models of its session.

    Faces are found by ``detector`` when given (the caller keeps it to one thread),
    else by the session's ``face_detector`` (CenterFace by default) for each thread.
    """

    def __init__(
        self,
        session: ModelSession | None = None,
        detector: FaceDetectorLike | None = None,
        cache_dir: Path | str | None = None,
        *,
        face_detector: str = DEFAULT_FACE_DETECTOR,
        confidence: float = DEFAULT_CONFIDENCE,
        max_side: int = DEFAULT_MAX_SIDE,
        coarse_side: int | None = DEFAULT_COARSE_SIDE,
    ) -> None:
        self.session = session if session is not None else ModelSession(cache_dir)
        self._detector = detector
        self.face_detector = face_detector
        self.confidence = confidence
        self.max_side = max_side
        self.coarse_side = coarse_side

    def detector(self, device: Device = "auto") -> FaceDetectorLike:
        """The detector for the calling thread."""
        if self._detector is not None:
            return self._detector
        return face_detector(
            self.session,
            self.face_detector,
            confidence=self.confidence,
            max_side=self.max_side,
            device=device,
            coarse_side=self.coarse_side,
        )

    def restore(
        self,
        image: Image,
        settings: RestorationSettings | None = None,
        detector: FaceDetectorLike | None = None,
        faces: list[FaceDetection] | None = None,
    ) -> RestoreFacesResult:
        """Restore every face of ``image``; the result is ``settings.upscale`` times larger.

        Each face is aligned at its native resolution and restored from those pixels to
        ``upscale`` times that size (the policy decides per face whether the model runs
        and at which strength, at most ``settings.strength``); the rest of the image is
        resized with Lanczos. Faces the policy leaves alone are exactly the Lanczos
        resize. ``faces``: the faces to restore (default: found by ``detector``, else by
        the session's detector for this thread).
        """
        check_rgb(image)
        settings = settings or RestorationSettings()
        restorer = create_restorer(self.session, settings)
        strength, upscale = settings.strength, settings.upscale
        height, width = image.shape[:2]
        out = lanczos(image, (width * upscale, height * upscale))
        if faces is None:
            finder = detector or self.detector(settings.device)
            faces = finder.detect(image) if strength > 0 else []
        reports: list[FaceReport] = []
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
            )
            reports.append(FaceReport(box, size, result))
            if not result.restored or result.image.shape[:2] != (target, target):
                continue
            matrix = alignment_matrix(points * upscale, target)
            source = warp_face(out, matrix, target)
            paste_face_into(out, result.image, matrix, source_face=source)
        return RestoreFacesResult(out, reports)


@overload
def restore_faces(
    image_rgb: Image,
    settings: RestorationSettings | None = ...,
    *,
    session: ModelSession | None = ...,
    detector: FaceDetectorLike | None = ...,
    report: Literal[False] = ...,
) -> Image: ...


@overload
def restore_faces(
    image_rgb: PILImage.Image,
    settings: RestorationSettings | None = ...,
    *,
    session: ModelSession | None = ...,
    detector: FaceDetectorLike | None = ...,
    report: Literal[False] = ...,
) -> PILImage.Image: ...


@overload
def restore_faces(
    image_rgb: Image | PILImage.Image,
    settings: RestorationSettings | None = ...,
    *,
    session: ModelSession | None = ...,
    detector: FaceDetectorLike | None = ...,
    report: Literal[True],
) -> RestoreFacesResult: ...


def restore_faces(
    image_rgb: Image | PILImage.Image,
    settings: RestorationSettings | None = None,
    *,
    session: ModelSession | None = None,
    detector: FaceDetectorLike | None = None,
    report: bool = False,
) -> Image | PILImage.Image | RestoreFacesResult:
    """Restore every face in ``image_rgb`` (an RGB uint8 array, or a PIL image of any
    mode, which comes back as a PIL RGB image); the image comes back
    ``settings.upscale`` times larger (default: the same size).

    ``settings`` (:class:`RestorationSettings`, default: the config's defaults) says
    how: the model, the most strength the policy may use, the policy (``"auto"``
    decides per face from its size, the upscale factor and its measured blur whether
    the model runs and at which strength; ``"always"`` runs it on every face), the
    identity drift beyond which a restored face is replaced by its Lanczos resize, the
    engine (``"auto"``: chosen once per machine and saved) and precision. Faces are
    found with ``detector`` (default: CenterFace) and aligned by their five landmarks;
    restored faces are pasted back with a feathered, colour-matched mask; the rest is
    a Lanczos resize. A model that fails leaves its faces unchanged (one WARNING each).
    With ``report=True`` the result also holds, per face, what the policy decided and
    why (:class:`RestoreFacesResult`). ``session`` keeps loaded models between calls
    (default: loaded for this call).
    """
    rgb = as_rgb(image_rgb) if isinstance(image_rgb, PILImage.Image) else image_rgb
    result = FaceRestoration(session).restore(rgb, settings, detector)
    if report:
        return result
    return PILImage.fromarray(result.image) if rgb is not image_rgb else result.image
