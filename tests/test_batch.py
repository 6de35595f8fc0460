"""Many videos in one run: failures don't stop the others; reruns skip finished videos."""

from __future__ import annotations

import json
from pathlib import Path

from .util import VIDEOS, files_in, make_video, moving_square_frames, run_cli


def test_batch_with_a_corrupt_file_then_rerun_skips(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes((VIDEOS / "stage_performer.mp4").read_bytes()[:50_000])
    out = tmp_path / "dataset"
    args = [
        "extract",
        str(VIDEOS),
        str(corrupt),
        "-o",
        str(out),
        "--max-frames",
        "6",
        "--no-face-restoration",
    ]
    first = run_cli(*args, "--workers", "2")
    assert first.returncode == 1, first.stderr
    assert "2 done, 0 skipped, 1 failed" in first.stderr
    assert "failed:" in first.stderr and "broken.mp4" in first.stderr
    assert "Traceback" not in first.stderr
    for stem in ("sitting_window", "stage_performer"):
        assert json.loads((out / f"{stem}_info.json").read_text())["outputs"]
    assert not any(name.startswith("broken") for name in files_in(out))

    second = run_cli(*args)
    assert second.returncode == 1
    assert "0 done, 2 skipped, 1 failed" in second.stderr


def test_video_without_people_is_a_clean_result(tmp_path: Path) -> None:
    video = make_video(tmp_path / "empty room.mp4", moving_square_frames(12))
    out = tmp_path / "out ünïcode"
    result = run_cli("extract", str(video), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "no people found" in result.stderr
    info = json.loads((out / "empty room_info.json").read_text())
    assert info["outputs"] == [] and info["summary"]["faces"] == 0
