"""Face restoration: engines, alignment, FaceRestorer and restore_faces().

Importing this package does not import torch (the torch engine loads lazily).
"""

from __future__ import annotations

from .api import FaceRestoration, RestoreFacesResult, restore_faces
from .engines import ENGINES, Engine, available_engines
from .restorer import FaceRestorer, RestoreResult, blend, lanczos, target_size_for
from .session import ModelSession

__all__ = [
    "ENGINES",
    "Engine",
    "FaceRestoration",
    "FaceRestorer",
    "ModelSession",
    "RestoreFacesResult",
    "RestoreResult",
    "available_engines",
    "blend",
    "lanczos",
    "restore_faces",
    "target_size_for",
]
