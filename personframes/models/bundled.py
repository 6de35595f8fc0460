"""Model files that ship inside the package (``personframes/models/bundled/``).

Each file is pinned by SHA-256 here. ``bundled_path`` checks the file once per process
before handing out its path, so a truncated or replaced file fails with a clear
``ModelError`` instead of odd detections.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import threading
from pathlib import Path

from ..errors import ModelError

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"

BUNDLED_SHA256: dict[str, str] = {
    "face_detection_full_range_sparse.tflite": (
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"
    ),
    "face_detection_short_range.tflite": (
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
    ),
    "face_landmark.tflite": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    "pose_detection.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "pose_landmark_full.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    "centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
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
            digest = _sha256(path)
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
