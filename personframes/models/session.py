"""The one cache of loaded models: ``ModelSession``.

Everything that holds a loaded model file (restoration engines, face detectors, the
frame analyzer's pose and head models) is made once per session, keyed by what
configures it (the model and the device first), and handed to whoever needs it. A
session is created by its user (the batch, ``personframes restore``, a library
caller) and passed in, never kept in a module global, so its lifetime is the caller's.

Face detectors and frame analyzers hold inference state that is not thread-safe, so
each thread gets its own; restoration engines serialise their runs with a lock and
are shared.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import ModelError
from .cache import ResolvedModel, resolve_model
from .catalogue import get_model

if TYPE_CHECKING:
    from ..config import Config
    from ..detect.base import FaceDetector
    from ..detect.face_identity import Embedding, FaceEmbedder
    from ..pipeline.analysis import FrameAnalyzer
    from ..restore.engine_choice import Candidate, EngineChoice
    from ..restore.engines.base import Engine

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelSession:
    """Loads each model once per (model, device, settings); remembers load failures."""

    def __init__(self, cache_dir: Path | str | None = None) -> None:
        self.cache_dir = cache_dir
        self._items: dict[Hashable, Any] = {}
        self._failures: dict[Hashable, ModelError] = {}
        self._lock = threading.RLock()
        self.load_seconds: dict[Hashable, float] = {}
        self._pinned: dict[tuple[str, str], EngineChoice] = {}  # add_engine's
        self._recorded: dict[tuple[str, float], Candidate] = {}  # recorded(): a video's

    def _get(self, key: Hashable, factory: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                item: T = self._items[key]
                return item
            if key in self._failures:
                raise self._failures[key]
            start = time.perf_counter()
            try:
                item = factory()
            except ModelError as exc:
                self._failures[key] = exc
                raise
            self.load_seconds[key] = time.perf_counter() - start
            self._items[key] = item
            return item

    def engine(
        self,
        model_id: str,
        device: str = "auto",
        engine: str = "auto",
        precision: str = "fp32",
        strength: float = 1.0,
    ) -> Engine:
        """The restoration model's loaded engine (shared; its runs are serialised);
        ModelError (remembered) when the model cannot be loaded. ``engine`` "auto" and
        a CPU run: the engine and precision chosen on this machine
        (:mod:`personframes.restore.engine_choice`); ``precision``: fp32, bf16 or auto
        (bf16 only where its output blended at ``strength`` stays within 50 dB of fp32's)."""
        choice = self.engine_choice(model_id, device, engine, precision, strength)
        return self.engine_for(model_id, device, choice.candidate)

    @contextlib.contextmanager
    def recorded(self, used: Mapping[tuple[str, float], Candidate]) -> Iterator[None]:
        """Inside, the (model, strength) pairs of ``used`` restore on the engine and
        precision recorded for them (a resumed video's), whatever the machine's choice."""
        with self._lock:
            saved, self._recorded = self._recorded, dict(used)
        try:
            yield
        finally:
            with self._lock:
                self._recorded = saved

    def engine_choice(
        self,
        model_id: str,
        device: str = "auto",
        engine: str = "auto",
        precision: str = "fp32",
        strength: float = 1.0,
    ) -> EngineChoice:
        """Which engine and precision run ``model_id`` (chosen once per session; the
        choice is logged once)."""
        from ..restore import engine_choice as ec
        from ..restore.engines.base import available_engines

        spec = get_model(model_id)
        with self._lock:
            pinned = self._pinned.get((model_id, device))
            recorded = self._recorded.get((model_id, strength))
        if pinned is not None:
            return pinned
        if recorded is not None:
            return ec.EngineChoice(recorded, "recorded for this video")

        def choose() -> ec.EngineChoice:
            name = spec.engine if engine == ec.AUTO else engine
            cls = available_engines().get(name)
            if device != "cpu" and cls is not None and cls.gpu_missing() is None:
                return ec.EngineChoice(ec.Candidate(name, "fp32"), "GPU")
            choice = ec.choose(
                spec,
                lambda c: self.engine_for(model_id, device, c),
                engine=engine,
                precision=precision,
                cache_dir=self.cache_dir,
                blend_strength=strength,
            )
            if choice.precision_fallback:
                log.warning("%s: bf16 asked for, but %s", model_id, choice.precision_fallback)
            if choice.how == "measured":  # said once per machine; a saved choice at DEBUG
                log.info(
                    "%s runs on %s; saved for every later run on this machine "
                    "(`personframes models tune` measures again)",
                    model_id,
                    choice.describe(),
                )
            else:
                log.debug("%s runs on %s", model_id, choice.describe())
            with self._lock:  # the engines measured and not chosen are let go
                for c in choice.trials:
                    if c.candidate != choice.candidate:
                        self._items.pop(("engine", model_id, device, c.candidate), None)
            return choice

        return self._get(("engine_choice", model_id, device, engine, precision, strength), choose)

    def model_files(self, model_id: str) -> ResolvedModel:
        """The model's files, found and checked against their SHA-256 once per session
        (ModelError, remembered, names the file and the repair command)."""
        return self._get(
            ("files", model_id), lambda: resolve_model(get_model(model_id), self.cache_dir)
        )

    def engine_for(self, model_id: str, device: str, candidate: Candidate) -> Engine:
        """The model loaded on ``candidate``'s engine and precision (shared)."""
        from ..restore.engines.base import create_engine

        def load() -> Engine:
            spec = get_model(model_id)
            resolved = self.model_files(model_id)
            engine = create_engine(candidate.engine)
            engine.load(resolved, device, candidate.precision)  # type: ignore[arg-type]
            if spec.input_size is None:
                # The first run sets up the engine's threads and buffers (2-4 s at 128
                # px on ncnn): pay it on a tiny input here, not on the first face.
                engine.run(np.zeros((16, 16, 3), np.uint8))
            log.debug("loaded %s on %s with %s", model_id, engine.device, candidate)
            return engine

        return self._get(("engine", model_id, device, candidate), load)

    def add_engine(self, model_id: str, device: str, engine: Engine) -> None:
        """Use ``engine`` (loaded by the caller, e.g. with weights it trained or checked
        itself) for ``model_id`` on ``device`` from now on, whatever the engine setting."""
        from ..restore.engine_choice import Candidate, EngineChoice

        candidate = Candidate(engine.NAME, engine.precision)
        with self._lock:
            self._items[("engine", model_id, device, candidate)] = engine
            self._pinned[(model_id, device)] = EngineChoice(candidate, "given")

    def face_detector(
        self,
        name: str,
        *,
        confidence: float,
        max_side: int,
        device: str,
        coarse_side: int | None = None,
    ) -> FaceDetector:
        """Face detector ``name`` for the calling thread."""
        from ..detect import create_face_detector

        settings = {"confidence": confidence, "max_side": max_side, "coarse_side": coarse_side}

        def make() -> FaceDetector:
            detector = create_face_detector(name, device=device, **settings)  # type: ignore[arg-type]
            detector.detect(np.zeros((64, 64, 3), np.uint8))  # one-time native set-up
            return detector

        key = ("face_detector", name, *settings.values(), device, threading.get_ident())
        return self._get(key, make)

    def configured_face_detector(self, config: Config) -> FaceDetector:
        """The face detector the config's ``models`` section names, for the calling thread."""
        m = config.models
        return self.face_detector(
            m.face_detector,
            confidence=m.confidence,
            max_side=m.detector_max_side,
            device=m.device,
            coarse_side=m.detector_coarse_side,
        )

    def frame_analyzer(self, config: Config) -> FrameAnalyzer:
        """The pose and head-pose models for the calling thread (the analyzer runs its
        body-pose half on one more thread of its own choosing)."""
        from ..pipeline.analysis import FrameAnalyzer

        def make() -> FrameAnalyzer:
            analyzer = FrameAnalyzer(config)
            # One-time native set-up of every model, now rather than on the first frame.
            analyzer.analyze(np.zeros((64, 64, 3), np.uint8), [])
            return analyzer

        settings = config.section_hash("pose", "head_angle", "selection.min_face_sharpness")
        key = ("frame_analyzer", settings, threading.get_ident())
        return self._get(key, make)

    def face_embedder(self) -> FaceEmbedder:
        """The face identity model for the calling thread."""
        from ..detect.face_identity import FaceEmbedder

        return self._get(("face_embedder", threading.get_ident()), FaceEmbedder)

    def photo_identity(self, path: Path, config: Config) -> Embedding:
        """The identity embedding of the largest face of the photo at ``path`` (once per
        session and file version); InputError when it is not an image or has no face."""
        from ..errors import InputError
        from ..pipeline.reference import embed_photo

        try:
            stat = path.stat()
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read reference photo ({exc.strerror or exc})"
            ) from None
        key = ("photo_identity", str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        return self._get(key, lambda: embed_photo(path, config, self))

    def loaded(self) -> list[Hashable]:
        """The keys of the loaded models (not of the engine choices or checked files)."""
        with self._lock:
            return [
                k
                for k in self._items
                if not (isinstance(k, tuple) and k[0] in ("engine_choice", "files"))
            ]
