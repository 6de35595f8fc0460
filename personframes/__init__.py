"""personframes: curated, face-restored image datasets from videos of people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "restore_faces"]

if TYPE_CHECKING:
    from .restore.api import restore_faces


def __getattr__(name: str) -> Any:
    # ``from personframes import restore_faces`` without importing the models for the CLI.
    if name == "restore_faces":
        from .restore.api import restore_faces

        return restore_faces
    raise AttributeError(name)
