"""Inference engines: one ABC, one registry (``ENGINES``), created by name."""

from __future__ import annotations

from .base import (
    ENGINES,
    Engine,
    EngineEntry,
    EngineFailure,
    available_engines,
    create_engine,
    engine_available,
    engine_class,
)

RESTORE_ENGINES: tuple[str, ...] = ("auto", *ENGINES)

__all__ = [
    "ENGINES",
    "RESTORE_ENGINES",
    "Engine",
    "EngineEntry",
    "EngineFailure",
    "available_engines",
    "create_engine",
    "engine_available",
    "engine_class",
]
