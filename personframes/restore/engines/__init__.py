"""Inference engines (ncnn, PyTorch) behind one interface."""

from __future__ import annotations

from .base import ENGINES, Device, Engine, EngineEntry, EngineRegistry, available_engines

__all__ = ["ENGINES", "Device", "Engine", "EngineEntry", "EngineRegistry", "available_engines"]
