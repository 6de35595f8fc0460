"""The one cache of loaded models: ``ModelSession``.

Everything that holds a loaded model file (restoration engines, face detectors, the
frame analyzer's pose and head models) is made once per session by
``session.cached(key, factory)``, keyed by what configures it (what it is, the model
and the device first), and handed to whoever needs it. The factories live beside what
they make (``restore.loading.engine``, ``detect.face_detector``,
``detect.face_identity.face_embedder``, ``pipeline.frame_analysis.frame_analyzer``, ...): the
session knows nothing of them. A session is created by its user (the batch,
``personframes restore``, a library caller) and passed in, never kept in a module
global, so its lifetime is the caller's.

Face detectors and frame analyzers hold inference state that is not thread-safe, so
their factories key them by thread; restoration engines serialise their runs with a
lock and are shared.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ModelError
from .cache import ResolvedModel, resolve_model
from .catalogue import get_model

T = TypeVar("T")
NOT_MODELS = frozenset({"engine_choice", "engine_pins", "files"})  # kept, but not loaded


class ModelSession:
    """Loads each model once per (model, device, settings); remembers load failures."""

    def __init__(self, cache_dir: Path | str | None = None) -> None:
        self.cache_dir = cache_dir
        self._items: dict[Hashable, Any] = {}
        self._failures: dict[Hashable, ModelError] = {}
        self._lock = threading.RLock()
        self.load_seconds: dict[Hashable, float] = {}

    def cached(self, key: Hashable, factory: Callable[[], T]) -> T:
        """The item made by ``factory`` under ``key`` (made once per session; a ModelError
        is remembered and raised again). Keys start with what they are (``"engine"``,
        ``"face_detector"``, ...); the factories live beside what they make."""
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

    def put(self, key: Hashable, item: Any) -> None:
        """Keep ``item`` under ``key`` (made by the caller, e.g. an engine it loaded)."""
        with self._lock:
            self._items[key] = item
            self._failures.pop(key, None)

    def discard(self, key: Hashable) -> None:
        """Let go of the item under ``key`` (absent: nothing happens)."""
        with self._lock:
            self._items.pop(key, None)

    def model_files(self, model_id: str) -> ResolvedModel:
        """The model's files, found and checked against their SHA-256 once per session
        (ModelError, remembered, names the file and the repair command)."""
        return self.cached(
            ("files", model_id), lambda: resolve_model(get_model(model_id), self.cache_dir)
        )

    def loaded(self) -> list[Hashable]:
        """The keys of the loaded models (not of choices, pins or checked files)."""
        with self._lock:
            return [k for k in self._items if not (isinstance(k, tuple) and k[0] in NOT_MODELS)]
