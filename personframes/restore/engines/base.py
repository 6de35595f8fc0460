"""The inference-engine seam: one ABC, one registry, an availability map.

An engine runs one catalogue model on one device. Which engine runs a model
is data (``ModelSpec.engine``); an engine whose optional dependency is missing
maps to None in :func:`available_engines` with an install hint.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from ...errors import InputError, ModelError, UnknownIdError
from ...models.cache import ResolvedModel
from ...types import Image

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "gpu"]


def cpu_threads() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Engine(ABC):
    """Runs one model. ``run`` is thread-safe (one inference at a time per engine)."""

    NAME: ClassVar[str]

    def __init__(self) -> None:
        self.model: ResolvedModel | None = None
        self.device: str = "cpu"  # the device actually used, e.g. "cpu", "cuda:0", "vulkan:0"
        self._lock = threading.Lock()

    @property
    def scale(self) -> int:
        return 1 if self.model is None else self.model.spec.scale

    @abstractmethod
    def load(self, model: ResolvedModel, device: Device = "auto") -> None:
        """Load the model's files; raise ModelError naming the file on failure."""

    @abstractmethod
    def _infer(self, image: Image, fidelity: float | None) -> Image:
        """RGB uint8 in, RGB uint8 out (``scale`` times larger)."""

    def run(self, image: Image, *, fidelity: float | None = None) -> Image:
        """Run the model on an RGB uint8 image (HxWx3)."""
        if self.model is None:
            raise ModelError(f"{self.NAME} engine: run() before load()")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"expected an RGB uint8 HxWx3 image, got {image.dtype} {image.shape}")
        with self._lock:
            return self._infer(np.ascontiguousarray(image), fidelity)


def to_uint8(array: np.ndarray) -> Image:
    """Float image in [0, 1] (HxWx3) -> uint8 with rounding."""
    out: Image = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class EngineEntry:
    name: str
    module: str  # module path, imported only when the engine is used
    attr: str
    requires: str  # top-level import the engine needs
    hint: str  # how to install that dependency


class EngineRegistry:
    """Known engines; duplicates rejected, unknown names raise UnknownIdError."""

    def __init__(self) -> None:
        self._entries: dict[str, EngineEntry] = {}

    def register(self, entry: EngineEntry) -> None:
        if entry.name in self._entries:
            raise ValueError(f"engine {entry.name!r} registered twice")
        self._entries[entry.name] = entry

    def names(self) -> list[str]:
        return list(self._entries)

    def entry(self, name: str) -> EngineEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownIdError(
                f"unknown engine {name!r} (known: {', '.join(self._entries)})"
            ) from None

    def is_available(self, name: str) -> bool:
        return importlib.util.find_spec(self.entry(name).requires) is not None

    def available(self) -> dict[str, type[Engine] | None]:
        """Every engine name -> its class, or None when its dependency is missing."""
        return {
            name: (self.get(name) if self.is_available(name) else None) for name in self._entries
        }

    def get(self, name: str) -> type[Engine]:
        """The engine class; ModelError with an install hint when it cannot be used."""
        entry = self.entry(name)
        if not self.is_available(name):
            raise ModelError(f"the {name} engine needs {entry.requires}: {entry.hint}")
        module = importlib.import_module(entry.module)
        cls: type[Engine] = getattr(module, entry.attr)
        return cls

    def create(self, name: str) -> Engine:
        return self.get(name)()


ENGINES = EngineRegistry()
ENGINES.register(
    EngineEntry(
        "ncnn", "personframes.restore.engines.ncnn_engine", "NcnnEngine", "ncnn", "pip install ncnn"
    )
)
ENGINES.register(
    EngineEntry(
        "torch",
        "personframes.restore.engines.torch_engine",
        "TorchEngine",
        "torch",
        "pip install 'personframes[torch]'",
    )
)


def available_engines() -> dict[str, type[Engine] | None]:
    return ENGINES.available()
