"""The inference-engine seam: one ABC, one registry, an availability map.

An engine runs one catalogue model on one device. Which engine runs a model
is data (``ModelSpec.engine``); an engine whose optional dependency is missing
maps to None in :func:`available_engines` with an install hint. A failure inside
the engine's native code (a ``RuntimeError`` or ``MemoryError`` of ncnn or torch)
comes out of :meth:`Engine.run` as :class:`EngineFailure`, which the restorer turns
into a counted fallback; any other exception is a bug and propagates.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

import numpy as np

from ...cores import engine_threads
from ...devices import Device
from ...errors import ModelError, ProcessingError
from ...models.cache import ResolvedModel
from ...models.catalogue import ModelSpec
from ...registry import Registry
from ...types import Image, check_rgb

log = logging.getLogger(__name__)


Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)


class EngineFailure(ProcessingError):
    """The engine's native code failed on an input (out of memory, a backend error)."""


def cpu_threads() -> int:
    """Threads for one engine: this process's share of the cores it may use (affinity,
    cgroup quota, ``--workers``: :mod:`personframes.cores`)."""
    return engine_threads()


class Engine(ABC):
    """Runs one model. ``run`` is thread-safe (one inference at a time per engine)."""

    NAME: ClassVar[str]
    # Precisions the engine computes in on the CPU (bf16: where the CPU has it natively).
    PRECISIONS: ClassVar[tuple[Precision, ...]] = ("fp32",)

    def __init__(self) -> None:
        self.model: ResolvedModel | None = None
        self.device: str = "cpu"  # the device actually used, e.g. "cpu", "cuda:0", "vulkan:0"
        self.device_fallback: str | None = None  # why the CPU runs what a GPU was asked for
        self.precision: Precision = "fp32"
        self._lock = threading.Lock()

    @classmethod
    def supports(cls, spec: ModelSpec) -> bool:
        """Whether this engine can run catalogue model ``spec`` from its files."""
        return spec.engine == cls.NAME

    @classmethod
    def gpu_missing(cls) -> str | None:
        """Why this engine cannot use a GPU here (None: it can)."""
        return "no GPU support"

    @property
    def scale(self) -> int:
        return 1 if self.model is None else self.model.spec.scale

    @abstractmethod
    def load(
        self, model: ResolvedModel, device: Device = "auto", precision: Precision = "fp32"
    ) -> None:
        """Load the model's files; raise ModelError naming the file on failure.
        ``precision`` is one of ``PRECISIONS`` (on a GPU the engine's own choice)."""

    def _check_precision(self, precision: Precision) -> None:
        if precision not in self.PRECISIONS:
            raise ModelError(
                f"the {self.NAME} engine computes in {', '.join(self.PRECISIONS)}, not {precision}"
            )
        self.precision = precision

    @abstractmethod
    def _infer(self, image: Image, fidelity: float | None) -> Image:
        """RGB uint8 in, RGB uint8 out (``scale`` times larger)."""

    def run(self, image: Image, *, fidelity: float | None = None) -> Image:
        """Run the model on an RGB uint8 image (HxWx3)."""
        if self.model is None:
            raise ModelError(f"{self.NAME} engine: run() before load()")
        check_rgb(image, "engine input")
        with self._lock:
            try:
                return self._infer(np.ascontiguousarray(image), fidelity)
            except (RuntimeError, MemoryError) as exc:
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                raise EngineFailure(
                    f"{self.NAME} failed on a {image.shape[1]}x{image.shape[0]} input: "
                    f"{reason or type(exc).__name__}"
                ) from exc


def to_uint8(array: np.ndarray) -> Image:
    """Float image in [0, 1] (HxWx3) -> uint8 with rounding."""
    out: Image = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class EngineEntry:
    module: str  # module path, imported only when the engine is used
    attr: str
    requires: tuple[str, ...]  # top-level imports the engine needs
    hint: str  # how to install them
    # Tried by the once-per-machine choice (``--restore-engine auto``); False: run only
    # when named, for an engine that is a fallback, not a contender.
    measured: bool = True


ENGINES: Registry[EngineEntry] = Registry("engine")
ENGINES.register(
    "ncnn",
    EngineEntry(
        "personframes.restore.engines.ncnn_engine", "NcnnEngine", ("ncnn",), "pip install ncnn"
    ),
)
ENGINES.register(
    "torch",
    EngineEntry(
        "personframes.restore.engines.torch_engine",
        "TorchEngine",
        ("torch",),
        "pip install 'personframes[torch]'",
    ),
)
ENGINES.register(
    "onnxruntime",
    EngineEntry(
        "personframes.restore.engines.ort_engine",
        "OrtEngine",
        ("onnxruntime",),
        "pip install onnxruntime",
    ),
)
ENGINES.register(
    "openvino",
    EngineEntry(
        "personframes.restore.engines.openvino_engine",
        "OpenVinoEngine",
        ("openvino",),
        "pip install 'personframes[openvino]'",
    ),
)
ENGINES.register(
    "opencv",
    EngineEntry(
        "personframes.restore.engines.opencv_engine",
        "OpenCvEngine",
        ("cv2",),
        "pip install opencv-python-headless",
        # Slower than ncnn here when the machine is idle (x4plus, 64 px: 0.86 s against
        # 0.58; 128 px: 3.05 s against 2.37), yet a busy moment of the measurement made
        # it win once; measuring it would also cost every machine's first restoration
        # about 4 s. Run when named: --restore-engine opencv.
        measured=False,
    ),
)


def engine_available(name: str) -> bool:
    """True when engine ``name``'s dependency is installed (UnknownIdError if no such engine)."""
    return all(importlib.util.find_spec(m) is not None for m in ENGINES.lookup(name).requires)


def engine_class(name: str) -> type[Engine]:
    """The engine class; ModelError with an install hint when it cannot be used."""
    entry = ENGINES.lookup(name)
    if not engine_available(name):
        raise ModelError(f"the {name} engine needs {', '.join(entry.requires)}: {entry.hint}")
    cls: type[Engine] = getattr(importlib.import_module(entry.module), entry.attr)
    return cls


def create_engine(name: str) -> Engine:
    return engine_class(name)()


def available_engines() -> dict[str, type[Engine] | None]:
    """Every engine name -> its class, or None when its dependency is missing."""
    return {name: engine_class(name) if engine_available(name) else None for name in ENGINES}
