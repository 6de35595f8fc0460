"""openvino, imported with its usage reporting off.

Importing openvino (2024 and later) sends a usage event through ``openvino_telemetry``
unless the user opted out: it writes a client id under the home folder and starts a
process by ``fork`` to post the event over the network. personframes writes nowhere but
its output folder and works offline, and a fork in a process whose threads hold locks
can hang that child (and the parent, which waits for it at exit: seen in a test run).
openvino falls back to its own stub when ``openvino_telemetry`` cannot be imported, so
it is made unimportable here unless the application imported it already. Import
openvino only through this module.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]

import openvino as ov  # noqa: E402

__all__ = ["ov"]
