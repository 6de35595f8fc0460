"""What a signal does while the heavy modules load (the entry point's first second, and
each subcommand's modules, which load when it runs): end at once with one line."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def ended_while_loading(signum: int, _frame: FrameType | None) -> None:
    """While the modules load, end at once: nothing has been written yet. An exception
    raised here could land in code that runs below Python (a regex or schema being
    compiled, a C extension's callback), which reports it as "ignored" and goes on."""
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    sys.stderr.write(f"personframes: {word}\n")
    sys.stderr.flush()
    os._exit(128 + signum)
