"""OpenCV DNN engine for RRDBNet: the ONNX graph the onnxruntime engine runs, on OpenCV's
own CPU backend (``cv2``, a dependency already): fp32, CPU only.

OpenCV has one thread pool per process: loading this engine sets it to the process's
share of the cores (``cpu_threads``), which the other OpenCV calls of the process then
use too.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...errors import ModelError
from .base import Precision, cpu_threads
from .graph_engine import GraphEngine


class OpenCvEngine(GraphEngine):
    NAME = "opencv"

    def __init__(self, tile: int = 256, tile_pad: int = 16) -> None:
        super().__init__(tile, tile_pad)
        self._net: cv2.dnn.Net | None = None

    @classmethod
    def gpu_missing(cls) -> str | None:
        return "the opencv engine runs on the CPU only (OpenCV's wheels have no CUDA backend)"

    def _compile(self, graph: Path | bytes, gpu: bool, precision: Precision) -> str:
        del gpu, precision  # CPU, fp32 only
        try:
            if isinstance(graph, Path):
                net = cv2.dnn.readNetFromONNX(str(graph))
            else:
                net = cv2.dnn.readNetFromONNX(np.frombuffer(graph, np.uint8))
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1][:200]
            raise ModelError(f"OpenCV cannot load the ONNX graph: {reason}") from None
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        cv2.setNumThreads(cpu_threads())
        self._net = net
        return "cpu"

    def _run(self, x: np.ndarray) -> np.ndarray:
        assert self._net is not None
        try:
            self._net.setInput(x, "data")
            out: np.ndarray = self._net.forward("output")
        except cv2.error as exc:  # Engine.run reports a RuntimeError as an EngineFailure
            raise RuntimeError(str(exc).strip().splitlines()[-1]) from None
        return out
