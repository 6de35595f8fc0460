"""PyTorch engine: pure-torch architectures, .pth weights (weights_only) or ncnn weights.

Imported only when used (torch is the optional extra ``personframes[torch]``).
CUDA is used when the device is gpu/auto and available; a CUDA out-of-memory
error retries in tiles, then on the CPU, each step logged at WARNING.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...devices import choose_device
from ...errors import InputError, ModelError
from ...models.cache import ResolvedModel
from ...models.catalogue import ModelSpec
from ...types import Image
from ..archs import ARCHS, build_arch
from ..archs.ncnn_weights import ncnn_state_dict
from .base import Device, Engine, Precision, cpu_threads, to_uint8
from .tiling import FloatImage, run_tiled

log = logging.getLogger(__name__)

_LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    zipfile.BadZipFile,
    KeyError,
    TypeError,
)


def _cuda_missing() -> str | None:
    return None if torch.cuda.is_available() else "CUDA is not available to torch"


def read_pth(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a .pth file, never unpickling arbitrary objects."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(data, dict):
        for key in ("params_ema", "params", "state_dict"):
            if key in data and isinstance(data[key], dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ValueError("no state dict of tensors found")
    return data


class TorchEngine(Engine):
    NAME = "torch"
    PRECISIONS = ("fp32", "bf16")  # bf16: CPU autocast
    # Convolution-only networks run faster in channels-last layout on the CPU (Real-ESRGAN
    # 128 px: 3.1 s against 3.7 s); the face models reshape their activations, so not them.
    CHANNELS_LAST = frozenset({"rrdbnet"})

    @classmethod
    def supports(cls, spec: ModelSpec) -> bool:
        if spec.arch not in ARCHS:
            return False
        return spec.has_files(".pth") or (
            spec.arch == "rrdbnet" and spec.has_files(".param", ".bin")
        )

    @classmethod
    def gpu_missing(cls) -> str | None:
        return _cuda_missing()

    def __init__(self, tile: int = 256, tile_pad: int = 16) -> None:
        super().__init__()
        self.tile = tile
        self.tile_pad = tile_pad
        self.net: nn.Module | None = None
        self.torch_device = torch.device("cpu")
        self._channels_last = False

    def load(
        self, model: ResolvedModel, device: Device = "auto", precision: Precision = "fp32"
    ) -> None:
        self._check_precision(precision)
        spec = model.spec
        net = build_arch(spec.arch)
        pth = [p for n, p in model.paths.items() if n.endswith((".pth", ".pt"))]
        source = pth[0] if pth else model.path(".bin")
        try:
            if pth:
                state = read_pth(pth[0])
            else:
                state = ncnn_state_dict(model.path(".param"), model.path(".bin"), net)
            net.load_state_dict(state, strict=True)
        except _LOAD_ERRORS as exc:
            text = str(exc).strip()
            reason = text.splitlines()[0][:200] if text else type(exc).__name__
            raise ModelError(
                f"cannot load model file {source} ({reason}): repair it with `{spec.fetch_command}`"
            ) from None
        if torch.get_num_threads() != cpu_threads():
            torch.set_num_threads(cpu_threads())
        choice = choose_device(device, f"{spec.id} (torch)", _cuda_missing)
        self.device_fallback = choice.fallback
        if choice.gpu:
            self.torch_device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.torch_device = torch.device("cpu")
        self.net = net.eval().requires_grad_(False).to(self.torch_device)
        self._channels_last = not choice.gpu and spec.arch in self.CHANNELS_LAST
        if self._channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.model = model
        self.device = str(self.torch_device)
        log.debug("%s: torch engine on %s (%s)", spec.id, self.device, precision)

    def _forward(self, tile: FloatImage, fidelity: float | None) -> FloatImage:
        if self.net is None:  # pragma: no cover - guarded by run()
            raise ModelError("torch engine not loaded")
        x = torch.from_numpy(np.ascontiguousarray(tile.transpose(2, 0, 1)))[None]
        x = x.to(self.torch_device)
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        bf16 = self.precision == "bf16"
        with (
            torch.inference_mode(),
            torch.autocast(self.torch_device.type, dtype=torch.bfloat16, enabled=bf16),
        ):
            y = self.net.restore(x, fidelity)  # type: ignore[operator, unused-ignore]
        result: FloatImage = y[0].float().cpu().numpy().transpose(1, 2, 0)
        return result

    def _infer(self, image: Image, fidelity: float | None) -> Image:
        spec = self.model.spec if self.model is not None else None
        size = spec.input_size if spec is not None else None
        if size is not None and image.shape[:2] != (size, size):
            raise InputError(
                f"{spec.id if spec else 'model'} needs {size}x{size} input, got "
                f"{image.shape[1]}x{image.shape[0]}"
            )
        x = image.astype(np.float32) / 255.0
        tileable = size is None

        def whole(t: FloatImage) -> FloatImage:
            return self._forward(t, fidelity)

        try:
            return to_uint8(whole(x))
        except torch.cuda.OutOfMemoryError:
            if not self.device.startswith("cuda"):
                raise
            torch.cuda.empty_cache()
            if tileable:
                log.warning(
                    "torch: CUDA out of memory on %dx%d input; retrying in %d px tiles",
                    image.shape[1],
                    image.shape[0],
                    self.tile,
                )
                try:
                    return to_uint8(run_tiled(whole, x, self.scale, self.tile, self.tile_pad))
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
            log.warning(
                "torch: CUDA out of memory; moving %s to the CPU", spec.id if spec else "the model"
            )
            self._to_cpu()
            if tileable:
                return to_uint8(run_tiled(whole, x, self.scale, self.tile, self.tile_pad))
            return to_uint8(whole(x))

    def _to_cpu(self) -> None:
        self.device_fallback = "CUDA out of memory; the model moved to the CPU"
        self.torch_device = torch.device("cpu")
        if self.net is not None:
            self.net = self.net.to(self.torch_device)
        self.device = "cpu"
