"""FaceRestorer: restore one face crop to a target size, blended with Lanczos.

    original = Lanczos(crop -> longest side = target)
    decision = policy(face size, upscale factor, blur of the crop; max strength)
    restored = model(crop at native resolution) -> Lanczos to original's size
    final    = round(s * restored + (1 - s) * original)   (in float; s from the decision)

s == 0, or a policy decision not to restore, returns ``original`` exactly without
running the model (the decision and its reason are in the result). The model never
sees a crop shrunk below its native resolution (see :mod:`.policy`). A model that
cannot load or fails on the crop (``ModelError``, ``EngineFailure``) returns
``original`` with ``fell_back=True`` and the reason, logged as a WARNING; any other
exception is a bug and propagates.

Each restoration kind of the catalogue is one subclass, registered in ``RESTORERS``:
``SrRestorer`` (whole-crop super-resolution) and ``FaceModelRestorer`` (GFPGAN,
CodeFormer: the face is aligned to the FFHQ 512 template by its five keypoints,
restored, and pasted back feathered and colour-matched).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import numpy as np

from ..config import PolicyName, PrecisionMode
from ..detect.face_identity import IdentityUnavailable, face_embedder, identity_distance
from ..devices import Device
from ..errors import InputError, ModelError
from ..models.catalogue import DEFAULT_MODEL, ModelSpec, restoration_model
from ..models.session import ModelSession
from ..registry import Registry
from ..resize import STRIP_PIXELS, fit_longest, lanczos
from ..types import Box, FaceDetection, Image, check_rgb
from .align import NoFaceFound, alignment_matrix, face_points, paste_face, warp_face
from .engine_choice import engines_can
from .engines.base import Engine, EngineFailure
from .loading import engine as load_engine
from .loading import engine_choice, recorded_model
from .metrics import psnr
from .policy import Decision, Policy, face_features
from .settings import RestorationSettings

log = logging.getLogger(__name__)

MIN_TARGET = 512


class FaceDetectorLike(Protocol):
    def detect(self, image: Image) -> list[FaceDetection]: ...


@dataclass(frozen=True)
class RestoreResult:
    image: Image
    model: str
    device: str  # device that ran the model; "none" when no model ran
    seconds: float
    fell_back: bool = False
    reason: str | None = None  # why the model did not run / was not used
    decision: Decision | None = None  # the policy's decision (None: strength 0)
    strength: float = 0.0  # strength actually used (0: Lanczos only)
    model_input: tuple[int, int] | None = None  # (w, h) the model saw
    departure_db: float | None = None  # PSNR of the result against Lanczos alone
    device_fallback: str | None = None  # why the CPU ran it although a GPU was asked for
    # Face identity distance of the model's result from the Lanczos resize (None: not
    # measured); beyond the restorer's ``max_drift`` the result is Lanczos only.
    identity_distance: float | None = None
    identity_drift: bool = False
    engine: str | None = None  # the engine that ran the model, e.g. "ncnn"
    precision: str | None = None  # what it computed in: "fp32" or "bf16"
    precision_fallback: str | None = None  # why bf16 was asked for but fp32 ran

    @property
    def restored(self) -> bool:
        """True when the model's output is part of the image."""
        return self.strength > 0 and not self.fell_back

    def record(self) -> dict[str, Any]:
        """JSON-ready per-face record: what the policy decided and why, what ran (not how
        long it took: a manifest is the same whichever run, machine or shard wrote it)."""
        decision = self.decision
        return {
            "model": self.model,
            "restored": self.restored,
            "policy": decision.policy if decision else None,
            "decision": decision.action if decision else "off",
            "reason": self.reason,
            "face_px": round(decision.features.face_px, 1) if decision else None,
            "face_px_estimated": decision.features.face_px_estimated if decision else None,
            "factor": round(decision.features.factor, 3) if decision else None,
            "blur": round(decision.features.blur, 4) if decision else None,
            "strength": self.strength,
            "model_input": list(self.model_input) if self.model_input else None,
            "departure_db": self.departure_db,
            "device": self.device,
            "engine": self.engine,
            "precision": self.precision,
            "fell_back": self.fell_back,
            "identity_distance": self.identity_distance,
            "identity_drift": self.identity_drift,
        } | {
            k: v
            for k, v in (
                ("device_fallback", self.device_fallback),
                ("precision_fallback", self.precision_fallback),
            )
            if v
        }


# Failures that make restore_crop fall back to Lanczos (bad inputs and bugs propagate).
_MODEL_FAILURES = (ModelError, EngineFailure, NoFaceFound)


def face_box_in_crop(
    shape: tuple[int, ...], landmarks: np.ndarray | None, face_px: float | None, factor: float
) -> Box:
    """Where the face is in a crop resized by ``factor``: a square 2.5 eye distances wide
    around the five points (as a face detector boxes an aligned face), else a centred
    square of the face's height (or 80 % of the crop)."""
    height, width = shape[:2]
    if landmarks is not None and len(landmarks) >= 2:
        points = np.asarray(landmarks, np.float64) * factor
        side = 2.5 * float(np.linalg.norm(points[1] - points[0]))
        cx, cy = points.mean(axis=0)
    else:
        side = face_px * factor if face_px else 0.8 * min(width, height)
        cx, cy = width / 2, height / 2
    half = max(side, 8.0) / 2
    return Box(cx - half, cy - half, cx + half, cy + half).clip(width, height)


def target_size_for(resize: int | None) -> int:
    """The restoration target: max(512, resize)."""
    return max(MIN_TARGET, resize or 0)


def blend(restored: Image, original: Image, strength: float) -> Image:
    """round(s * restored + (1 - s) * original), computed in float (strips of rows)."""
    result: Image = np.empty_like(original)
    rows = max(1, STRIP_PIXELS // max(1, original.shape[1]))
    for top in range(0, original.shape[0], rows):
        part = slice(top, top + rows)
        mixed = strength * restored[part].astype(np.float64)
        mixed += (1.0 - strength) * original[part].astype(np.float64)
        result[part] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return result


@dataclass(frozen=True)
class ModelJob:
    """What a restorer's model works on for one crop."""

    engine: Engine
    crop: Image  # at its native resolution
    original: Image  # its Lanczos resize to the target: what the result must match
    landmarks: np.ndarray | None  # five face points in the crop's pixels
    input_side: int  # the longest side the policy lets the model see


class FaceRestorer(ABC):
    """Restores face crops with one catalogue model on one device: the policy, the
    blend and the fallback; subclasses run their kind of model (``_run_model``).

    Build one with :func:`create_restorer` (it picks the class for the model's kind).
    """

    KIND: ClassVar[str]
    USES_KEYPOINTS: ClassVar[bool] = False  # whether the result depends on ``landmarks``

    def __init__(
        self,
        spec: ModelSpec,
        session: ModelSession,
        settings: RestorationSettings,
        detector: FaceDetectorLike | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.engine = settings.engine  # "auto": chosen once per machine (engine_choice)
        self.precision: PrecisionMode = settings.precision
        self.max_drift = settings.max_drift  # identity distance beyond which: Lanczos
        self._identity_problem: str | None = None
        self.session = session
        self.device: Device = settings.device
        self.fidelity = settings.fidelity  # CodeFormer's fidelity weight; others ignore it
        self.policy: PolicyName = settings.policy
        self.detector = detector  # finds keypoints for crops given without (face models)

    @property
    def model_id(self) -> str:
        return self.spec.id

    def check(self) -> None:
        """Check the model's files now (ModelError names the file and the repair command),
        without loading an engine or choosing one: that waits for the first face that
        needs the model, so a run whose faces need none never measures engines."""
        self.session.model_files(self.spec.id)

    def load(self) -> Engine:
        """Load the model now (ModelError names the file and the repair command)."""
        return load_engine(self.session, self.spec.id, self.device, self.engine, self.precision)

    def restore_crop(
        self,
        crop: Image,
        target_size: int,
        strength: float,
        *,
        landmarks: np.ndarray | None = None,
        face_px: float | None = None,
        policy: PolicyName | None = None,
    ) -> RestoreResult:
        """Restore ``crop`` so that its longest side is ``target_size``.

        ``strength`` is the most the policy may use (the blend weight of the model).
        ``face_px``: height of the face in the crop's pixels (detector box); when not
        given it is estimated as a face crop with the default padding. ``policy``:
        "auto" (default: the restorer's) decides per face from the measured table in
        :mod:`.policy`; "always" runs the model at ``strength``. ``landmarks``:
        (5, 2) face points in crop coordinates, as the scan's detector found them
        (face models need them, or a detector to find them).
        """
        check_rgb(crop, "face crop")
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"face restoration strength must be in [0, 1], got {strength}")
        if target_size < 1:
            raise InputError(f"target size must be positive, got {target_size}")
        start = time.perf_counter()
        height, width = crop.shape[:2]
        original = lanczos(crop, fit_longest(width, height, target_size))
        if strength == 0.0:
            return RestoreResult(
                original, self.spec.id, "none", time.perf_counter() - start, reason="strength 0"
            )
        features = face_features(crop, face_px, target_size)
        decision = Policy(policy or self.policy, strength).decide(features)
        lanczos_only = RestoreResult(
            original,
            self.spec.id,
            "none",
            time.perf_counter() - start,
            reason=decision.reason,
            decision=decision,
        )
        if decision.action != "restore":
            return lanczos_only
        model_id = self._model_for(decision)
        lanczos_only = replace(lanczos_only, model=model_id)
        try:
            engine = load_engine(
                self.session, model_id, self.device, self.engine, self.precision, decision.strength
            )
            restored, model_input = self._run_model(
                ModelJob(engine, crop, original, landmarks, decision.input_side)
            )
        except _MODEL_FAILURES as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("face restoration with %s failed, using Lanczos only: %s", model_id, reason)
            return replace(
                lanczos_only, seconds=time.perf_counter() - start, fell_back=True, reason=reason
            )
        final = blend(restored, original, decision.strength)
        distance = self._identity_distance(original, final, landmarks, crop.shape, face_px)
        if distance is not None and self.max_drift is not None and distance > self.max_drift:
            reason = (
                f"identity drift: the restored face is not the same person (> {self.max_drift})"
            )
            log.warning(
                "%s: identity distance %.2f from the original, using Lanczos only",
                model_id,
                distance,
            )
            return replace(
                lanczos_only,
                seconds=time.perf_counter() - start,
                fell_back=True,
                reason=reason,
                identity_distance=distance,
                identity_drift=True,
                engine=engine.NAME,  # the model ran: whether it drifted depends on it
                precision=engine.precision,
            )
        return RestoreResult(
            final,
            model_id,
            engine.device,
            time.perf_counter() - start,
            reason=decision.reason,
            decision=decision,
            strength=decision.strength,
            model_input=model_input,
            departure_db=round(psnr(final, original), 2),
            device_fallback=engine.device_fallback,
            identity_distance=distance,
            engine=engine.NAME,
            precision=engine.precision,
            precision_fallback=engine_choice(
                self.session, model_id, self.device, self.engine, self.precision, decision.strength
            ).precision_fallback,
        )

    def _model_for(self, decision: Decision) -> str:
        """The model that restores this face: the policy's cheaper one for its cell when
        the default model is configured (and the named engine, if any, runs it), else
        the configured one."""
        cheaper = decision.model
        if cheaper is None or cheaper == self.spec.id or self.spec.id != DEFAULT_MODEL:
            return self.spec.id
        resumed = recorded_model(self.session, (cheaper, self.spec.id), decision.strength)
        if resumed is not None:  # a resumed video keeps the model its faces had
            return resumed
        if self.engine != "auto" and not engines_can(self.engine, restoration_model(cheaper)):
            return self.spec.id
        return cheaper

    def _identity_distance(
        self,
        original: Image,
        final: Image,
        landmarks: np.ndarray | None,
        crop_shape: tuple[int, ...],
        face_px: float | None,
    ) -> float | None:
        """Identity distance of ``final`` from ``original`` (both at the target size),
        None without a check or without the identity model (one WARNING)."""
        if self.max_drift is None or self._identity_problem is not None:
            return None
        try:
            embedder = face_embedder(self.session)
        except IdentityUnavailable as exc:  # a damaged model file stops the run instead
            self._identity_problem = str(exc)
            log.warning("no identity check of restored faces: %s", exc)
            return None
        factor = original.shape[1] / crop_shape[1]
        box = face_box_in_crop(original.shape, landmarks, face_px, factor)
        a = embedder.embed(original, box)
        return round(identity_distance(a, embedder.embed(final, box)), 4)

    @abstractmethod
    def _run_model(self, job: ModelJob) -> tuple[Image, tuple[int, int]]:
        """The model's result at ``job.original``'s size, and the (w, h) the model saw."""


class SrRestorer(FaceRestorer):
    """Super-resolution models: the crop (shrunk to the policy's input side at most) is
    upscaled and resized to the target."""

    KIND = "sr"

    def _run_model(self, job: ModelJob) -> tuple[Image, tuple[int, int]]:
        crop, original = job.crop, job.original
        height, width = crop.shape[:2]
        model_in = (
            crop
            if job.input_side >= max(height, width)
            else lanczos(crop, fit_longest(width, height, job.input_side))
        )
        upscaled = job.engine.run(model_in, fidelity=self.fidelity)
        size = (int(model_in.shape[1]), int(model_in.shape[0]))
        return lanczos(upscaled, (original.shape[1], original.shape[0])), size


class FaceModelRestorer(FaceRestorer):
    """Face models (GFPGAN, CodeFormer): align by the five keypoints, restore at the
    model's fixed size, paste back. Keypoints come with the crop (the scan's); without
    them, ``detector`` finds the largest face, else the crop falls back."""

    KIND = "face"
    USES_KEYPOINTS = True

    def _run_model(self, job: ModelJob) -> tuple[Image, tuple[int, int]]:
        original = job.original  # face models take their fixed aligned size
        size = self.spec.input_size or 512
        if job.landmarks is not None:
            factor = original.shape[1] / job.crop.shape[1]
            points = np.asarray(job.landmarks, dtype=np.float32) * factor
        else:
            faces = self.detector.detect(original) if self.detector is not None else []
            if not faces:
                raise NoFaceFound("no face keypoints for the face model")
            points = face_points(max(faces, key=lambda f: f.box.area))
        matrix = alignment_matrix(points, size)
        aligned = warp_face(original, matrix, size)
        restored = job.engine.run(aligned, fidelity=self.fidelity)
        return paste_face(original, restored, matrix, source_face=aligned), (size, size)


RESTORERS: Registry[type[FaceRestorer]] = Registry("restoration kind")
RESTORERS.register(SrRestorer.KIND, SrRestorer)
RESTORERS.register(FaceModelRestorer.KIND, FaceModelRestorer)


def create_restorer(
    session: ModelSession,
    settings: RestorationSettings | None = None,
    detector: FaceDetectorLike | None = None,
) -> FaceRestorer:
    """The restorer for ``settings.model`` (its class chosen by the model's kind);
    ``detector`` is used by face models for crops that come without keypoints."""
    settings = settings or RestorationSettings()
    spec = restoration_model(settings.model)
    return RESTORERS.lookup(spec.kind)(spec, session, settings, detector)
