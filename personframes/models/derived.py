"""Files made from a model's files (an ONNX graph built from ncnn weights), kept in the
model cache beside a record of their SHA-256 and of the files they were made from.

A derived file is used only when its record says it was made from the same source
files by the same builder and its content still hashes as recorded; otherwise it is
built again (written to a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
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


def derived_file(model: ResolvedModel, name: str, builder: str, build: Callable[[], bytes]) -> Path:
    """The cached file ``name`` made from ``model`` by ``build`` (``builder`` names the
    builder and its version); built and recorded when missing, stale or damaged."""
    folder = resolve_cache_dir(model.cache_dir) / model.spec.id
    path = folder / name
    expected = _expected(model, builder)
    if _valid(path, expected):
        return path
    log.info("%s: building %s into the model cache (once)", model.spec.id, name)
    data = build()
    record = {**expected, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        atomic_write_bytes(_record_path(path), json.dumps(record, indent=2).encode())
    except (OSError, OutputError) as exc:
        raise ModelError(f"cannot write {path} into the model cache: {exc}") from exc
    return path
