"""Keep native libraries' start-up chatter (TFLite, glog) off the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from .errors import debug_enabled

# Read by glog / TensorFlow Lite (LiteRT) when it loads; set before its import.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def silence_native_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while native code initialises.

    Python-level logging is unaffected in content but anything written to
    stderr inside the block is dropped, so keep the block to model set-up.
    """
    if debug_enabled():
        yield
        return
    fd = 2  # native code writes to the descriptor, whatever sys.stderr has become
    try:
        saved = os.dup(fd)
    except OSError:  # no descriptor 2 at all
        yield
        return
    sys.stderr.flush()
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)
