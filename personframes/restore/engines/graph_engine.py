"""Engines that run Real-ESRGAN's RRDBNet as an ONNX graph built from the shipped ncnn
weights (:mod:`personframes.restore.rrdbnet_onnx`): no torch needed.

Subclasses compile the graph (``_compile``) and run one NCHW float32 tile (``_run``);
inputs larger than ``tile`` px are run in overlapping tiles, as the ncnn engine does.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path

import numpy as np

from ...models.cache import ResolvedModel
from ...models.catalogue import ModelSpec
from ...types import Image
from ..rrdbnet_onnx import rrdbnet_graph
from .base import Device, Engine, Precision, to_uint8
from .tiling import FloatImage, run_tiled

log = logging.getLogger(__name__)


class GraphEngine(Engine):
    def __init__(self, tile: int = 256, tile_pad: int = 16) -> None:
        super().__init__()
        self.tile = tile
        self.tile_pad = tile_pad

    @classmethod
    def supports(cls, spec: ModelSpec) -> bool:
        return spec.arch == "rrdbnet" and spec.has_files(".param", ".bin")

    def load(
        self, model: ResolvedModel, device: Device = "auto", precision: Precision = "fp32"
    ) -> None:
        from ...devices import choose_device

        self._check_precision(precision)
        choice = choose_device(device, f"{model.spec.id} ({self.NAME})", self.gpu_missing)
        self.device_fallback = choice.fallback
        self.device = self._compile(rrdbnet_graph(model), choice.gpu, precision)
        self.model = model
        log.debug("%s: %s engine on %s (%s)", model.spec.id, self.NAME, self.device, precision)

    @abstractmethod
    def _compile(self, graph: Path | bytes, gpu: bool, precision: Precision) -> str:
        """Load the graph (a file, or the serialised model); returns the device it runs on."""

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """(1, 3, h, w) float32 in [0, 1] -> (1, 3, 4h, 4w)."""

    def _forward(self, tile: FloatImage) -> FloatImage:
        x = np.ascontiguousarray(tile.transpose(2, 0, 1)[None], dtype=np.float32)
        result: FloatImage = np.asarray(self._run(x), np.float32)[0].transpose(1, 2, 0)
        return result

    def _infer(self, image: Image, fidelity: float | None) -> Image:
        del fidelity
        x = image.astype(np.float32) / 255.0
        return to_uint8(run_tiled(self._forward, x, self.scale, self.tile, self.tile_pad))
