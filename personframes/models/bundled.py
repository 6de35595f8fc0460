"""Model files that ship inside the package (``personframes/models/bundled/``).

Each file is pinned by SHA-256 in the catalogue (its ``bundled`` files).
``bundled_path`` checks the file once per process before handing out its path, so a
truncated or replaced file fails with a clear ``ModelError`` instead of odd detections.
"""

from __future__ import annotations

import importlib.metadata
import json
import threading
from pathlib import Path

from ..errors import ModelError
from ..hashing import sha256_file
from .catalogue import CATALOGUE

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"

BUNDLED_SHA256: dict[str, str] = {
    file.name: file.sha256 for spec in CATALOGUE.values() for file in spec.files if file.bundled
}

_verified: set[str] = set()
_lock = threading.Lock()


def bundled_path(name: str) -> Path:
    """Path of bundled model file ``name``, its SHA-256 checked (once per process).

    Raises ``ModelError`` naming the file when it is unknown, missing or differs from
    the pinned checksum.
    """
    expected = BUNDLED_SHA256.get(name)
    if expected is None:
        known = ", ".join(sorted(BUNDLED_SHA256))
        raise ModelError(f"{name}: not a bundled model file (bundled: {known})")
    path = BUNDLED_DIR / name
    with _lock:
        if name in _verified:
            return path
        try:
            digest = sha256_file(path)
        except FileNotFoundError:
            raise ModelError(
                f"bundled model file {name} is missing ({path}): {reinstall_hint()}"
            ) from None
        except OSError as exc:
            raise ModelError(f"cannot read bundled model file {name} ({path}): {exc}") from exc
        if digest != expected:
            raise ModelError(
                f"bundled model file {name} ({path}) is damaged: SHA-256 {digest}, expected "
                f"{expected}; {reinstall_hint()}"
            )
        _verified.add(name)
    return path


def reinstall_hint() -> str:
    """How to get undamaged copies back, for the way this personframes was installed."""
    try:
        dist = importlib.metadata.distribution("personframes")
        origin = json.loads(dist.read_text("direct_url.json") or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        origin = {}
    url = str(origin.get("url", ""))
    source = url.removeprefix("file://") if url.startswith("file://") else url
    if origin.get("dir_info", {}).get("editable") and source:
        return (
            f"personframes runs from its source folder {source}: restore the file there "
            f"(`git -C {source} checkout -- personframes/models/bundled`)"
        )
    return (
        "reinstall personframes "
        f"(`pip install --force-reinstall --no-deps {source or 'personframes'}`)"
    )
