"""ncnn engine: .param/.bin super-resolution models, fp32 on CPU, Vulkan on GPU."""

from __future__ import annotations

import logging
import threading

import ncnn
import numpy as np

from ...devices import choose_device
from ...errors import ModelError
from ...models.cache import ResolvedModel
from ...models.catalogue import ModelSpec
from ...native import silence_native_stderr
from ...types import Image
from .base import Device, Engine, Precision, cpu_threads, to_uint8
from .tiling import FloatImage, run_tiled

log = logging.getLogger(__name__)

_gpu_lock = threading.Lock()
_gpu_count: int | None = None


def vulkan_gpu_count() -> int:
    """Number of Vulkan GPUs ncnn can use (0 when no driver); probed once."""
    global _gpu_count
    with _gpu_lock:
        if _gpu_count is None:
            with silence_native_stderr():
                _gpu_count = int(ncnn.get_gpu_count())
        return _gpu_count


def _vulkan_missing() -> str | None:
    return None if vulkan_gpu_count() > 0 else "no Vulkan GPU found"


class NcnnEngine(Engine):
    """Runs an ncnn network with input blob ``data`` and output blob ``output``."""

    NAME = "ncnn"
    PRECISIONS = ("fp32", "bf16")  # bf16: weights and activations stored as bf16
    INPUT = "data"
    OUTPUT = "output"

    def __init__(self, tile: int = 256, tile_pad: int = 16) -> None:
        super().__init__()
        self.tile = tile
        self.tile_pad = tile_pad
        self._net: ncnn.Net | None = None

    @classmethod
    def supports(cls, spec: ModelSpec) -> bool:
        return spec.has_files(".param", ".bin")

    @classmethod
    def gpu_missing(cls) -> str | None:
        return _vulkan_missing()

    def load(
        self, model: ResolvedModel, device: Device = "auto", precision: Precision = "fp32"
    ) -> None:
        self._check_precision(precision)
        choice = choose_device(device, f"{model.spec.id} (ncnn)", _vulkan_missing)
        use_gpu = choice.gpu
        self.device_fallback = choice.fallback
        net = ncnn.Net()
        net.opt.use_vulkan_compute = use_gpu
        # fp16 flags off: they gain nothing on CPUs without AVX-512 FP16.
        net.opt.use_fp16_packed = False
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_arithmetic = False
        net.opt.use_bf16_storage = precision == "bf16"
        net.opt.num_threads = cpu_threads()
        param, weights = model.path(".param"), model.path(".bin")
        fetch = model.spec.fetch_command
        if net.load_param(str(param)) != 0:
            raise ModelError(f"ncnn cannot read model file {param}: repair it with `{fetch}`")
        if net.load_model(str(weights)) != 0:
            raise ModelError(f"ncnn cannot read model file {weights}: repair it with `{fetch}`")
        self._net = net
        self.model = model
        self.device = "vulkan:0" if use_gpu else "cpu"
        log.debug(
            "%s: ncnn engine on %s (%d threads, %s)",
            model.spec.id,
            self.device,
            net.opt.num_threads,
            precision,
        )

    def _forward(self, tile: FloatImage) -> FloatImage:
        if self._net is None:  # pragma: no cover - guarded by run()
            raise ModelError("ncnn engine not loaded")
        chw = np.ascontiguousarray(tile.transpose(2, 0, 1))
        extractor = self._net.create_extractor()
        extractor.input(self.INPUT, ncnn.Mat(chw))
        ret, out = extractor.extract(self.OUTPUT)
        if ret != 0:
            raise RuntimeError(f"ncnn extract failed with code {ret}")
        result: FloatImage = np.array(out, dtype=np.float32).transpose(1, 2, 0)
        return result

    def _infer(self, image: Image, fidelity: float | None) -> Image:
        del fidelity
        x = image.astype(np.float32) / 255.0
        y = run_tiled(self._forward, x, self.scale, self.tile, self.tile_pad)
        return to_uint8(y)
