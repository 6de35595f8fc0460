"""Issue 28, item 3: one video twice in one batch. Hard links and a copy of one real
video are processed once and the others reported as its duplicates, serially, with
``--workers 2`` and on Ray alike (with two workers the second used to find the first
holding the video's lock: "in use by pid N", exit 1); another video of the batch is
processed beside it as usual."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .util import VIDEOS, make_video, moving_square_frames, run_cli

STAGE = VIDEOS / "stage_performer.mp4"
FAST = ["--max-frames", "4", "--no-face-restoration"]


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """a.mp4 (a copy of a shared video), b.mp4 and c.mp4 (hard links of it), d.mp4
    (a byte copy: another file, found the same by its content), and e.mp4, another
    video (so that two workers have two videos)."""
    base = tmp_path_factory.mktemp("duplicates")
    first = base / "a.mp4"
    shutil.copyfile(STAGE, first)
    os.link(first, base / "b.mp4")
    os.link(first, base / "c.mp4")
    shutil.copyfile(first, base / "d.mp4")
    other = make_video(base / "e.mp4", moving_square_frames(20))
    return [first, base / "b.mp4", base / "c.mp4", base / "d.mp4", other]


def _ray_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


@pytest.mark.parametrize(
    "placement",
    [
        pytest.param([], id="serial"),
        pytest.param(["--workers", "2"], id="workers-2"),
        pytest.param(
            ["--workers", "2", "--executor", "ray"],
            id="ray",
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(not _ray_installed(), reason="the ray extra is not installed"),
            ],
        ),
    ],
)
def test_links_and_a_copy_of_one_video_are_one_video_and_its_duplicates(
    copies: list[Path], tmp_path: Path, placement: list[str]
) -> None:
    out = tmp_path / "out"
    result = run_cli("extract", *map(str, copies), "-o", str(out), *FAST, *placement)
    assert result.returncode == 0, result.stderr
    assert "2 done, 0 skipped, 3 duplicates, 0 failed" in result.stderr, result.stderr
    assert "in use by" not in result.stderr and "Traceback" not in result.stderr
    for twin in copies[1:4]:
        assert f"{twin}: the same video as {copies[0]} (processed once" in result.stderr
    assert sorted(p.name for p in out.glob("*_info.json")) == ["a_info.json", "e_info.json"]

    again = run_cli("extract", *map(str, copies), "-o", str(out), *FAST, *placement)
    assert again.returncode == 0, again.stderr
    assert "0 done, 2 skipped, 3 duplicates, 0 failed" in again.stderr, again.stderr


def test_files_alike_at_both_ends_but_not_between_are_not_duplicates(tmp_path: Path) -> None:
    """The cheap key (size, first and last 64 KiB) is confirmed by the whole content."""
    from personframes.pipeline.duplicates import same_content

    head, tail = os.urandom(1 << 16), os.urandom(1 << 16)
    one, two, three = tmp_path / "one.mp4", tmp_path / "two.mp4", tmp_path / "three.mp4"
    one.write_bytes(head + b"\x00" * 100_000 + tail)
    two.write_bytes(head + b"\x01" * 100_000 + tail)
    shutil.copyfile(one, three)
    found = same_content([one, two, three], lambda _video: tmp_path / "out")
    assert found == {three: one}
    # In different output folders, the same content is two videos (one per folder).
    assert same_content([one, three], lambda video: tmp_path / video.stem) == {}
