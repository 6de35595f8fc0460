"""ONNX Runtime engine for RRDBNet: fp32 on the CPU, CUDA when its provider is installed.

Its worker threads do not spin while waiting (``session.intra_op.allow_spinning`` 0):
spinning threads are what make an engine collapse beside a busy neighbour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...detect._onnxruntime import ort, ort_state
from ...errors import ModelError
from .base import Precision, cpu_threads
from .graph_engine import GraphEngine

CUDA = "CUDAExecutionProvider"


class OrtEngine(GraphEngine):
    NAME = "onnxruntime"

    def __init__(self, tile: int = 256, tile_pad: int = 16) -> None:
        super().__init__(tile, tile_pad)
        self._session: ort.InferenceSession | None = None

    @classmethod
    def gpu_missing(cls) -> str | None:
        if CUDA in ort.get_available_providers():
            return None
        return "this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"

    def _compile(self, graph: Path | bytes, gpu: bool, precision: Precision) -> str:
        del precision  # fp32 only
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers = [CUDA, "CPUExecutionProvider"] if gpu else ["CPUExecutionProvider"]
        try:
            source = str(graph) if isinstance(graph, Path) else graph
            self._session = ort.InferenceSession(source, options, providers=providers)
        except (RuntimeError, ort_state.Fail) as exc:
            raise ModelError(f"onnxruntime cannot load the ONNX graph: {exc}") from None
        return "cuda:0" if self._session.get_providers()[0] == CUDA else "cpu"

    def _run(self, x: np.ndarray) -> np.ndarray:
        assert self._session is not None
        out: np.ndarray = self._session.run(["output"], {"data": x})[0]
        return out
