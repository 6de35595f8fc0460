"""The ``personframes`` command's entry point: light to import, so that Ctrl+C or
SIGTERM while the heavy modules load (the first second) ends with one line, not a
traceback or a silent death. Processing installs its own handlers that stop cleanly."""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _terminated(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write("personframes: terminated\n")
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("personframes: interrupted\n")
        sys.exit(130)
    cli_main()
