"""Bundled model files: checksum checks and clear errors when a file is missing or damaged."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from personframes.detect.face_landmarks import FaceLandmarker
from personframes.detect.mediapipe_face import MediaPipeFullRange
from personframes.errors import ModelError
from personframes.models import bundled
from personframes.models.bundled import BUNDLED_DIR, BUNDLED_SHA256, bundled_path

NAME = "face_detection_short_range.tflite"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """bundled_path reading from an empty folder, with no file checked yet."""
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr(bundled, "_verified", set())
    return tmp_path


@pytest.mark.parametrize("name", sorted(BUNDLED_SHA256))
def test_every_pinned_file_is_bundled_and_intact(name: str) -> None:
    path = bundled_path(name)
    assert path == BUNDLED_DIR / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == BUNDLED_SHA256[name]


def test_unknown_name_lists_the_bundled_files() -> None:
    with pytest.raises(ModelError, match=r"not a bundled model file.*face_landmark\.tflite"):
        bundled_path("nope.tflite")


# Installed from a folder or wheel: reinstall; run from a source checkout: restore it there.
REPAIR = (
    r"pip install --force-reinstall --no-deps|git -C .* checkout -- personframes/models/bundled"
)


def test_missing_file_says_to_reinstall(fresh: Path) -> None:
    with pytest.raises(ModelError, match=f"{NAME} is missing.*({REPAIR})"):
        bundled_path(NAME)


def test_damaged_file_says_to_reinstall(fresh: Path) -> None:
    data = (BUNDLED_DIR / NAME).read_bytes()
    (fresh / NAME).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelError, match=f"{NAME} .* is damaged.*({REPAIR})"):
        bundled_path(NAME)


def test_checked_once_per_process(fresh: Path) -> None:
    shutil.copyfile(BUNDLED_DIR / NAME, fresh / NAME)
    assert bundled_path(NAME) == fresh / NAME
    (fresh / NAME).write_bytes(b"changed after the check")
    assert bundled_path(NAME) == fresh / NAME  # not hashed again


@pytest.mark.parametrize("cut", [0, 1000])
def test_truncated_tflite_raises_model_error(tmp_path: Path, cut: int) -> None:
    for name, build in (
        ("face_detection_full_range_sparse.tflite", MediaPipeFullRange),
        ("face_landmark.tflite", FaceLandmarker),
    ):
        path = tmp_path / name
        path.write_bytes((BUNDLED_DIR / name).read_bytes()[:cut])
        with pytest.raises(ModelError, match=str(path)):
            build(model_path=path)
