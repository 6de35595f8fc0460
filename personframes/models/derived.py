"""Files made from a model's files (an ONNX graph built from ncnn weights), kept in the
model cache beside a record of their SHA-256 and of the files they were made from.

A derived file is used only when its record says it was made from the same source
files by the same builder and its content still hashes as recorded; otherwise the user
of it builds it in memory. Only ``personframes models tune`` saves one (written to a
temporary name, then renamed): processing commands write nothing outside their output
folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..errors import ModelError, OutputError
from ..output.writer import atomic_write_bytes
from .cache import ResolvedModel, resolve_cache_dir

log = logging.getLogger(__name__)


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _expected(model: ResolvedModel, builder: str) -> dict[str, object]:
    return {
        "builder": builder,
        "sources": {f.name: f.sha256 for f in model.spec.files},
    }


def _valid(path: Path, expected: dict[str, object]) -> bool:
    try:
        record = json.loads(_record_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or {k: record.get(k) for k in expected} != expected:
        return False
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == record.get("sha256")
    except OSError:
        return False


def saved_file(model: ResolvedModel, name: str, builder: str) -> Path | None:
    """The cached file ``name`` made from ``model`` by ``builder``, if it is there and
    still what its record says (else None)."""
    path = resolve_cache_dir(model.cache_dir) / model.spec.id / name
    return path if _valid(path, _expected(model, builder)) else None


def save_file(model: ResolvedModel, name: str, builder: str, data: bytes) -> Path:
    """Write ``data`` (made from ``model`` by ``builder``) into the model cache with its
    record (``personframes models tune``; processing commands never write the cache)."""
    folder = resolve_cache_dir(model.cache_dir) / model.spec.id
    path = folder / name
    record = {
        **_expected(model, builder),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        atomic_write_bytes(_record_path(path), json.dumps(record, indent=2).encode())
    except (OSError, OutputError) as exc:
        raise ModelError(f"cannot write {path} into the model cache: {exc}") from exc
    log.info("%s: saved %s in the model cache", model.spec.id, name)
    return path
