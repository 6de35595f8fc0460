"""Face restoration: engines, alignment, restorers and restore_faces().

Importing this package does not import torch (the torch engine loads lazily).
"""

from __future__ import annotations

from ..models.session import ModelSession
from .api import FaceRestoration, RestoreFacesResult, restore_faces
from .engines import ENGINES, Engine, available_engines
from .restorer import (
    RESTORERS,
    FaceModelRestorer,
    FaceRestorer,
    RestoreResult,
    SrRestorer,
    blend,
    create_restorer,
    target_size_for,
)
from .settings import RestorationSettings

__all__ = [
    "ENGINES",
    "RESTORERS",
    "Engine",
    "FaceModelRestorer",
    "FaceRestoration",
    "FaceRestorer",
    "ModelSession",
    "RestorationSettings",
    "RestoreFacesResult",
    "RestoreResult",
    "SrRestorer",
    "available_engines",
    "blend",
    "create_restorer",
    "restore_faces",
    "target_size_for",
]
