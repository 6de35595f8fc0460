"""The ``personframes`` command's entry point: light to import, so that Ctrl+C or
SIGTERM while the heavy modules load (the first second) ends with one line, not a
traceback or a silent death. Processing installs its own handlers that stop cleanly."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from .interrupts import ended_while_loading


def _terminated(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write("personframes: terminated\n")
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGINT, ended_while_loading)
    signal.signal(signal.SIGTERM, ended_while_loading)
    from .cli import main as cli_main

    # Loaded: from here an interrupt unwinds, so that files being written are cleaned up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        cli_main()
    except SystemExit as exc:
        if exc.code in (130, 143):
            # Interrupted, progress saved and said. Python 3.12+ remembers a
            # KeyboardInterrupt raised while a module was loading, even once handled,
            # and would end the process by SIGINT at shutdown instead of this code.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code)
        raise
    finally:
        # The outcome is decided and said: a signal while the interpreter shuts down
        # (joining threads, closing libraries) must not turn it into a death by signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
