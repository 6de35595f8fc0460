"""Loaded engines, cached by (model, device): one object, passed in, not a module global."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ..errors import ModelError
from ..models.cache import resolve_model
from ..models.catalogue import get_model
from .engines.base import ENGINES, Device, Engine

log = logging.getLogger(__name__)


class ModelSession:
    """Loads each (model, device) once per process and remembers load failures."""

    def __init__(self, cache_dir: Path | str | None = None) -> None:
        self.cache_dir = cache_dir
        self._engines: dict[tuple[str, str], Engine] = {}
        self._failures: dict[tuple[str, str], ModelError] = {}
        self._lock = threading.Lock()
        self.load_seconds: dict[tuple[str, str], float] = {}

    def engine(self, model_id: str, device: Device = "auto") -> Engine:
        """The loaded engine; ModelError (cached) when the model cannot be loaded."""
        key = (model_id, device)
        with self._lock:
            if key in self._engines:
                return self._engines[key]
            if key in self._failures:
                raise self._failures[key]
            spec = get_model(model_id)
            start = time.perf_counter()
            try:
                resolved = resolve_model(spec, self.cache_dir)  # SHA-256 checked here
                engine = ENGINES.create(spec.engine)
                engine.load(resolved, device)
            except ModelError as exc:
                self._failures[key] = exc
                raise
            self.load_seconds[key] = time.perf_counter() - start
            log.debug("loaded %s on %s in %.2f s", model_id, engine.device, self.load_seconds[key])
            self._engines[key] = engine
            return engine

    def loaded(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._engines)

    def clear(self) -> None:
        with self._lock:
            self._engines.clear()
            self._failures.clear()
