"""personframes: curated, face-restored image datasets from videos of people."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# OpenMP threads (ncnn's libgomp) sleep as soon as they wait instead of spinning: beside
# another busy process, spinning threads take turns on the cores and restoration ran
# 2.9x slower than alone; with passive waiting 1.5x, for about 5 % alone
# (bench/restore_load.py). Read when the OpenMP library loads, so it is set before any
# engine is imported; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
__all__ = ["RestorationSettings", "__version__", "restore_faces"]

if TYPE_CHECKING:
    from .restore.api import restore_faces
    from .restore.settings import RestorationSettings


def __getattr__(name: str) -> Any:
    # ``from personframes import restore_faces`` without importing the models for the CLI.
    if name == "restore_faces":
        from .restore.api import restore_faces

        return restore_faces
    if name == "RestorationSettings":
        from .restore.settings import RestorationSettings

        return RestorationSettings
    raise AttributeError(name)
