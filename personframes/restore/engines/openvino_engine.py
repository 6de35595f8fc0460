"""OpenVINO engine for RRDBNet (the optional extra ``personframes[openvino]``): fp32, or
bf16 on CPUs that compute it natively."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ModelError
from ._openvino import ov
from .base import Precision, cpu_threads
from .graph_engine import GraphEngine


class OpenVinoEngine(GraphEngine):
    NAME = "openvino"
    PRECISIONS = ("fp32", "bf16")

    def __init__(self, tile: int = 256, tile_pad: int = 16) -> None:
        super().__init__(tile, tile_pad)
        self._compiled: ov.CompiledModel | None = None

    @classmethod
    def gpu_missing(cls) -> str | None:
        return None if "GPU" in ov.Core().available_devices else "OpenVINO finds no GPU"

    def _compile(self, graph: Path | bytes, gpu: bool, precision: Precision) -> str:
        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        if not gpu:
            config["INFERENCE_NUM_THREADS"] = str(cpu_threads())
        try:
            core = ov.Core()
            model = core.read_model(str(graph) if isinstance(graph, Path) else graph, b"")
            self._compiled = core.compile_model(model, "GPU" if gpu else "CPU", config)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot load the ONNX graph: {exc}") from None
        return "gpu:0" if gpu else "cpu"

    def _run(self, x: np.ndarray) -> np.ndarray:
        assert self._compiled is not None
        out: np.ndarray = self._compiled({"data": x})[self._compiled.output(0)]
        return out
