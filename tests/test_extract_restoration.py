"""Face restoration inside `personframes extract`: real Real-ESRGAN (ncnn) on real crops."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from personframes.models import get_model
from personframes.models.cache import locate_file

from .util import VIDEOS, files_in, run_cli

VIDEO = VIDEOS / "stage_performer.mp4"
ARGS = ["--max-frames", "3", "--output-format", "png", "--no-full-frames"]


def _extract(out: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, *extra, env=env)
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads((out / "stage_performer_info.json").read_text())
    return info


def _frame(index: int) -> np.ndarray:
    with av.open(str(VIDEO)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return np.asarray(frame.to_ndarray(format="rgb24"))
    raise AssertionError(index)


@pytest.mark.slow
def test_restored_crops_are_512_with_a_per_face_record_in_info(tmp_path: Path) -> None:
    info = _extract(tmp_path, "--face-restoration")
    faces = [o for o in info["outputs"] if o["kind"] == "face"]
    assert faces
    for entry in faces:
        assert max(entry["size"]) == 512
        record = entry["restoration"]
        # x4plus configured; the light touch runs the compact model (restore/policy.py).
        light = record["decision"] == "restore" and record["strength"] == 0.25
        assert record["model"] == ("realesr-animevideov3" if light else "realesrgan-x4plus")
        assert record["policy"] == "auto"
        assert record["decision"] in ("restore", "lanczos") and record["reason"]
        assert record["face_px"] == pytest.approx(entry["face"]["box_xywh"][3], abs=0.1)
        _x, _y, w, h = entry["crop_box_xywh"]
        assert record["factor"] == pytest.approx(512 / max(w, h), abs=0.001)
        assert 0.0 <= record["blur"] <= 1.0 and record["fell_back"] is False
        if record["decision"] == "restore":
            assert record["restored"] and 0 < record["strength"] <= 0.8
            assert record["device"] == "cpu" and record["model_input"] == [round(w), round(h)]
            assert record["departure_db"] > 20
        else:
            assert not record["restored"] and record["strength"] == 0
            assert record["device"] == "none" and record["model_input"] is None
        with Image.open(tmp_path / entry["file"]) as image:
            assert max(image.size) == 512
    restored = sum(1 for o in faces if o["restoration"]["restored"])
    assert info["summary"]["restorations"] == restored
    decisions = info["summary"]["restoration_decisions"]
    assert sum(decisions.values()) == len(faces)


def test_strength_zero_is_plain_lanczos_bit_for_bit(tmp_path: Path) -> None:
    info = _extract(tmp_path, "--face-restoration-strength", "0")
    faces = [o for o in info["outputs"] if o["kind"] == "face"]
    assert faces
    for entry in faces:
        assert entry["restoration"]["device"] == "none"  # no model ran
        x, y, w, h = (int(v) for v in entry["crop_box_xywh"])
        crop = _frame(entry["frame_index"])[y : y + h, x : x + w]
        scale = 512 / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        expected = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS))
        written = np.asarray(Image.open(tmp_path / entry["file"]).convert("RGB"))
        assert written.shape == expected.shape
        assert np.array_equal(written, expected)


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    spec = get_model("realesrgan-x4plus")
    cache = tmp_path / "cache"
    for file in spec.files:
        source = locate_file(spec, file, cache)
        assert source is not None
        target = cache / spec.id / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    bin_file = next(cache.glob("realesrgan-x4plus/*.bin"))
    data = bytearray(bin_file.read_bytes())
    data[1000:1100] = bytes(100)  # damage the weights
    bin_file.write_bytes(bytes(data))
    out = tmp_path / "out"
    result = run_cli(
        "extract", str(VIDEO), "-o", str(out), *ARGS, env={"PERSONFRAMES_CACHE_DIR": str(cache)}
    )
    assert result.returncode == 1, result.stderr
    assert bin_file.name in result.stderr
    assert "personframes models fetch realesrgan-x4plus" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(name.endswith(".png") for name in files_in(out))
