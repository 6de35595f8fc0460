"""The ``personframes`` command's entry point: light to import, so that Ctrl+C while the
heavy modules load (the first second) ends with one line, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("personframes: interrupted\n")
        sys.exit(130)
    cli_main()
