"""Person From Vid's crop semantics, --bucket that keeps the shape, --max-frames that
spreads over the video, and a full frame chosen for two people written once."""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.config import load_config
from personframes.output.crops import snap_to_bucket

from .util import VIDEOS, run_cli


@pytest.mark.parametrize(
    ("size", "ratio", "expected"),
    [
        ((300, 225), 4 / 3, (256, 192)),  # the exact shape fits
        ((200, 150), 4 / 3, (192, 128)),  # was 192 x 128 too; nearest shape that fits
        ((640, 360), 16 / 9, (576, 320)),  # 1.80 (trimming each side: 640 x 320 = 2.0)
        ((301, 301), 1.0, (256, 256)),
        ((513, 130), None, (512, 128)),  # its own shape
        ((50, 40), 1.0, (50, 40)),  # smaller than one bucket: as it is
    ],
)
def test_bucket_keeps_the_shape(
    size: tuple[int, int], ratio: float | None, expected: tuple[int, int]
) -> None:
    width, height = size
    image = np.arange(width * height * 3, dtype=np.uint32).astype(np.uint8)
    out = snap_to_bucket(image.reshape(height, width, 3), 64, ratio)
    assert (out.shape[1], out.shape[0]) == expected


def test_a_crop_ratio_turns_body_crops_on() -> None:
    assert load_config(None, {"output": {"crop_ratio": "1:1"}}, environ={}).output.body_crops
    off = {"output": {"crop_ratio": "1:1", "body_crops": False}}
    assert not load_config(None, off, environ={}).output.body_crops
    assert not load_config(None, {}, environ={}).output.body_crops


def _info(out: Path, stem: str) -> dict:  # type: ignore[type-arg]
    data: dict = json.loads((out / f"{stem}_info.json").read_text())  # type: ignore[type-arg]
    return data


def test_square_dataset_with_buckets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "extract", str(VIDEOS / "sitting_window.mp4"), "-o", str(out), "--max-frames", "4",
        "--no-face-restoration", "--crop-ratio", "1:1", "--bucket", "64",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outputs = _info(out, "sitting_window")["outputs"]
    kinds = {o["kind"] for o in outputs}
    assert {"face", "body"} <= kinds  # the ratio turned body crops on
    for o in outputs:
        if o["kind"] != "frame":
            width, height = o["size"]
            assert width == height and width % 64 == 0, o
            with PILImage.open(out / o["file"]) as image:
                assert image.size == (width, height)


def test_restored_face_crops_in_buckets_record_the_size_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(out), "--max-frames", "3",
        "--people", "1", "--no-full-frames", "--bucket", "64",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    faces = [o for o in _info(out, "stage_performer")["outputs"] if o["kind"] == "face"]
    assert any(o["restoration"]["restored"] for o in faces)
    for o in faces:
        with PILImage.open(out / o["file"]) as image:
            assert image.size == tuple(o["size"]) and image.width % 64 == 0, o


def test_max_frames_spreads_over_the_video(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "extract", str(VIDEOS / "sitting_window.mp4"), "-o", str(out), "--max-frames", "5",
        "--no-face-restoration",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = _info(out, "sitting_window")
    assert info["summary"]["candidates"] <= 5
    times = sorted({o["time_s"] for o in info["outputs"]})
    duration = info["video"]["duration_s"]
    assert times and times[-1] > duration / 2  # not the first seconds only


def test_a_frame_chosen_for_several_people_is_written_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(out), "--no-face-restoration",
        "--no-face-crops",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    digests = collections.Counter(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in out.glob("*.jpg")
    )
    assert digests and max(digests.values()) == 1  # no copies under other names
    frames = [o for o in _info(out, "stage_performer")["outputs"] if o["kind"] == "frame"]
    shared = [o for o in frames if o.get("person_ids")]
    assert shared, "the audience shot has frames chosen for several people"
    for o in shared:
        assert o["person_id"] == o["person_ids"][0] and len(set(o["person_ids"])) > 1


def test_faces_under_the_minimum_get_no_crop_and_are_counted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "extract", str(VIDEOS / "sitting_window.mp4"), "-o", str(out), "--max-frames", "4",
        "--no-face-restoration", "--min-face-size", "200",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = _info(out, "sitting_window")
    kinds = collections.Counter(o["kind"] for o in info["outputs"])
    assert kinds["face"] == 0 and kinds["frame"] > 0  # frames of the person still written
    assert info["summary"]["face_crops_too_small"] == kinds["frame"]


@pytest.mark.slow
def test_people_keeps_the_most_seen(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [str(VIDEOS / "stage_performer.mp4"), "--no-face-restoration", "--no-face-crops"]
    everyone = run_cli("extract", *args, "-o", str(out / "all"))
    shutil.copytree(out / "all", out / "one", symlinks=True)  # the scan is kept
    one = run_cli("extract", *args, "-o", str(out / "one"), "--people", "1")
    assert everyone.returncode == 0 and one.returncode == 0, one.stderr
    all_info, one_info = (
        _info(out / "all", "stage_performer"),
        _info(out / "one", "stage_performer"),
    )
    assert len({o["person_id"] for o in all_info["outputs"]}) > 1
    assert len({o["person_id"] for o in one_info["outputs"]}) == 1
    assert one_info["summary"]["people_left_out"] == all_info["summary"]["people"] - 1
