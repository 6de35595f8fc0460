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

import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import ModelError
from .cache import resolve_model
from .catalogue import get_model

if TYPE_CHECKING:
    from ..config import Config
    from ..detect.base import FaceDetector
    from ..detect.face_identity import Embedding, FaceEmbedder
    from ..pipeline.analysis import FrameAnalyzer
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

    def engine(self, model_id: str, device: str = "auto") -> Engine:
        """The restoration model's loaded engine (shared; its runs are serialised);
        ModelError (remembered) when the model cannot be loaded."""
        from ..restore.engines.base import create_engine

        def load() -> Engine:
            spec = get_model(model_id)
            resolved = resolve_model(spec, self.cache_dir)  # SHA-256 checked here
            engine = create_engine(spec.engine)
            engine.load(resolved, device)  # type: ignore[arg-type]
            log.debug("loaded %s on %s", model_id, engine.device)
            return engine

        return self._get(("engine", model_id, device), load)

    def add_engine(self, model_id: str, device: str, engine: Engine) -> None:
        """Use ``engine`` (loaded by the caller, e.g. with weights it trained or checked
        itself) for ``model_id`` on ``device`` from now on."""
        with self._lock:
            self._items[("engine", model_id, device)] = engine

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
        with self._lock:
            return list(self._items)
