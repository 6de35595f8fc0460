"""Loading a ``.tflite`` model into a LiteRT interpreter (``ai-edge-litert``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError

# On the 2-core machines the pipeline runs on, one thread per model: the pipeline runs
# decoding, detection and analysis side by side, and these models are small.
DEFAULT_THREADS = 1


def load_interpreter(path: Path, who: str, num_threads: int = DEFAULT_THREADS) -> Any:
    """A LiteRT ``Interpreter`` for ``path`` with its tensors allocated.

    Raises ``ModelError`` (naming ``who`` and the file) when it cannot be loaded.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise ModelError(f"{who}: LiteRT is not installed (pip install ai-edge-litert)") from exc
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{who}: cannot load model {path}: {exc}") from exc
    return interpreter


def output_index(interpreter: Any, size: int, who: str) -> int:
    """Tensor index of the interpreter's output that holds ``size`` values."""
    for detail in interpreter.get_output_details():
        if int(detail["shape"].prod()) == size:
            return int(detail["index"])
    raise ModelError(f"{who}: the model has no output of {size} values")
