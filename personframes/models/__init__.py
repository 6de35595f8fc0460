"""Model catalogue, cache, download and verification."""

from __future__ import annotations

from .cache import (
    ResolvedModel,
    default_cache_dir,
    is_installed,
    locate_file,
    resolve_cache_dir,
    resolve_model,
    sha256_file,
)
from .catalogue import CATALOGUE, DEFAULT_MODEL, MODEL_IDS, ModelFile, ModelId, ModelSpec, get_model
from .download import FileStatus, check_url, download_file, fetch_model, verify_models

__all__ = [
    "CATALOGUE",
    "DEFAULT_MODEL",
    "MODEL_IDS",
    "FileStatus",
    "ModelFile",
    "ModelId",
    "ModelSpec",
    "ResolvedModel",
    "check_url",
    "default_cache_dir",
    "download_file",
    "fetch_model",
    "get_model",
    "is_installed",
    "locate_file",
    "resolve_cache_dir",
    "resolve_model",
    "sha256_file",
    "verify_models",
]
