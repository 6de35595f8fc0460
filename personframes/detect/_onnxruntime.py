"""onnxruntime, imported with its usage reporting off.

Importing onnxruntime (1.2x and later) writes a device id and a usage database under
the user's cache folder (``~/.cache/Microsoft/DeveloperTools/.onnxruntime``) unless
``ORT_DISABLE_TELEMETRY`` is set; personframes writes nowhere but its output folder.
Import onnxruntime only through this module.
"""

from __future__ import annotations

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

__all__ = ["ort", "ort_state"]
