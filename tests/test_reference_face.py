"""``--reference-face`` / ``--exclude-face`` on the shared videos, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from personframes.detect import create_face_detector

from .util import VIDEOS, run_cli

VIDEO_NAMES = ("sitting_window", "stage_performer")


@pytest.fixture(scope="module")
def woman(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One face crop of the sitting woman (frame 390, facing the camera), as a photo."""
    with av.open(str(VIDEOS / "sitting_window.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 390:
                image = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                break
    face = max(create_face_detector("centerface").detect(image), key=lambda f: f.box.area).box
    pad = 0.4 * face.width
    x1, y1 = int(max(0, face.x1 - pad)), int(max(0, face.y1 - pad))
    path = tmp_path_factory.mktemp("reference") / "her.png"
    Image.fromarray(image[y1 : int(face.y2 + pad), x1 : int(face.x2 + pad)]).save(path)
    return path


def _batch(out: Path, *extra: str) -> dict[str, dict[str, Any]]:
    videos = [str(VIDEOS / f"{name}.mp4") for name in VIDEO_NAMES]
    result = run_cli("extract", *videos, "-o", str(out), "--no-face-restoration", *extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return {n: json.loads((out / f"{n}_info.json").read_text()) for n in VIDEO_NAMES}


@pytest.mark.slow
def test_reference_face_keeps_her_images_only(tmp_path: Path, woman: Path) -> None:
    info = _batch(tmp_path, "--reference-face", str(woman))
    assert info["stage_performer"]["outputs"] == []  # nobody there is her
    assert info["stage_performer"]["summary"]["people_not_matching_reference"] >= 10
    hers = info["sitting_window"]["outputs"]
    assert len(hers) >= 10 and {e["person_id"] for e in hers} == {1}
    assert all(e["person_reference_distance"] <= 0.6 for e in hers)
    faces = [e for e in hers if e["kind"] == "face" and "reference_distance" in e]
    assert faces and all(0.0 <= e["reference_distance"] < 1.0 for e in faces)
    written = {p.name for p in tmp_path.iterdir() if p.suffix == ".jpg"}
    assert written and all(name.startswith("sitting_window_") for name in written)
    # The opposite, in the same folder (the scans are reused): everyone but her.
    others = _batch(tmp_path, "--exclude-face", str(woman))
    assert others["sitting_window"]["outputs"] == []
    assert {e["person_id"] for e in others["stage_performer"]["outputs"]} >= {1}


def test_a_reference_photo_without_a_face_is_refused(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    for photo, says in ((blank, "no face found"), (tmp_path / "missing.jpg", "cannot read")):
        result = run_cli(
            "extract",
            str(VIDEOS / "sitting_window.mp4"),
            "-o",
            str(tmp_path / "out"),
            "--reference-face",
            str(photo),
        )
        assert result.returncode == 2, result.stderr
        assert says in result.stderr and str(photo) in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out" / "sitting_window_info.json").exists()
