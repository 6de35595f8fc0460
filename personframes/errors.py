"""The project's exceptions. The CLI maps them to exit codes in one place."""

from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def debug_enabled() -> bool:
    """PERSONFRAMES_DEBUG=1: errors re-raise with their traceback."""
    return os.environ.get("PERSONFRAMES_DEBUG", "") not in ("", "0")


def printable(text: str) -> str:
    """``text`` on one line: control characters (a newline in a file name) escaped."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class PersonframesError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with. The message is one line:
    a control character in it (from a file name or a config key) is escaped."""

    exit_code = 1

    def __str__(self) -> str:
        return printable(super().__str__())


class InputError(PersonframesError):
    """Bad input or usage: a missing, empty or undecodable file, a bad option."""

    exit_code = 2


class ConfigError(InputError):
    """An invalid configuration value or file."""


class OutputError(PersonframesError):
    """The output location cannot be written."""

    exit_code = 2


class DiskFullError(PersonframesError):
    """No space left where output or state is written; rerun once space is freed."""

    exit_code = 1


class ProcessingError(PersonframesError):
    """Processing failed on valid input."""

    exit_code = 1


class StateError(PersonframesError):
    """The saved state of a run is not what this program wrote (e.g. altered by hand)."""

    exit_code = 1


class BusyError(PersonframesError):
    """Another process is working on the same video in the same output folder."""

    exit_code = 1


class ModelError(PersonframesError):
    """A model file is missing, corrupt or cannot be loaded."""

    exit_code = 1


class DownloadError(ModelError):
    """A model download failed or its checksum did not match."""


class UnknownIdError(InputError):
    """An id that no registry knows; the message lists the known ones."""


class Interrupted(PersonframesError):
    """Stopped by a signal; progress was saved. exit_code is 128 + signal number."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message, signum)  # both in args, so it survives pickling
        self.message = message
        self.exit_code = 128 + signum

    def __str__(self) -> str:
        return self.message
