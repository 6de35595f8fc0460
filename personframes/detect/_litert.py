"""Loading ``.tflite`` models into LiteRT interpreters (``ai-edge-litert``).

Owns, for every LiteRT model of the package (BlazeFace, BlazePose, the face mesh): the
import of LiteRT, the interpreter's creation and tensor allocation, the ``ModelError``
when either fails, keeping LiteRT's "Created TensorFlow Lite XNNPACK delegate" line off
the terminal, and finding an output tensor by its size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..native import silence_native_stderr

# On the 2-core machines the pipeline runs on, one thread per model: the pipeline runs
# decoding, detection and analysis side by side, and these models are small.
DEFAULT_THREADS = 1


def load_interpreter(path: Path, who: str, num_threads: int = DEFAULT_THREADS) -> Any:
    """A LiteRT ``Interpreter`` for ``path`` with its tensors allocated.

    LiteRT announces its XNNPACK delegate on file descriptor 2 when the first model of
    the process allocates its tensors; that happens with descriptor 2 silenced (unless
    PERSONFRAMES_DEBUG is set). Raises ``ModelError`` (naming ``who`` and the file) when
    LiteRT is missing or the model cannot be loaded.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise ModelError(f"{who}: LiteRT is not installed (pip install ai-edge-litert)") from exc
    try:
        with silence_native_stderr():
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
