"""Edge cases through the real CLI: a full disk, odd videos (a read-only output folder:
test_bad_inputs.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from .util import VIDEOS, files_in, make_video, run_cli


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "small"
    if not _mount_tmpfs(where, "size=400k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_full_disk_fails_cleanly_and_rerun_completes(small_disk: Path) -> None:
    args = ["extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(small_disk)]
    args += ["--max-frames", "10", "--output-format", "png", "--no-face-restoration"]
    first = run_cli(*args)
    assert first.returncode == 1, first.stderr
    assert "no space left" in first.stderr and "Traceback" not in first.stderr
    assert not list(small_disk.glob(".pf-tmp-*"))
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    second = run_cli(*args)
    assert second.returncode == 0, second.stderr
    info = json.loads((small_disk / "stage_performer_info.json").read_text())
    assert {o["file"] for o in info["outputs"]} | {"stage_performer_info.json"} == set(
        files_in(small_disk)
    )


def test_short_rotated_video(tmp_path: Path) -> None:
    """A 0.5 s portrait phone clip (stored landscape + rotation) comes out upright."""
    frame = np.full((64, 96, 3), 40, np.uint8)
    video = make_video(tmp_path / "phone clip.mov", [frame] * 5, rotation=-90)
    out = tmp_path / "out"
    result = run_cli("extract", str(video), "-o", str(out))
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "phone clip_info.json").read_text())
    assert (info["video"]["width"], info["video"]["height"]) == (64, 96)
    assert info["video"]["duration_s"] < 1.0


@pytest.mark.slow
def test_json_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "run.jsonl"
    out = tmp_path / "out"
    result = run_cli(
        "extract",
        str(VIDEOS / "stage_performer.mp4"),
        "-o",
        str(out),
        "--max-frames",
        "2",
        "--log-file",
        str(log_file),
        "--log-format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert lines and all({"time", "level", "message"} <= set(line) for line in lines)
