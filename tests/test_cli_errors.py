"""Bad input through the real CLI: one line on stderr, the right exit code, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from .util import VIDEOS, files_in, run_cli


def _assert_clean_failure(result, expected_code: int, must_mention: str, out: Path) -> None:
    assert result.returncode == expected_code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert must_mention in lines[0]
    assert files_in(out) == []


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def test_missing_file(tmp_path: Path, out: Path) -> None:
    missing = tmp_path / "nope.mp4"
    result = run_cli("extract", str(missing), "-o", str(out))
    _assert_clean_failure(result, 2, "nope.mp4: no such file", out)


def test_zero_byte_file(tmp_path: Path, out: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = run_cli("extract", str(empty), "-o", str(out))
    _assert_clean_failure(result, 2, "empty.mp4: file is empty", out)


def test_text_file_named_mp4(tmp_path: Path, out: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    result = run_cli("extract", str(fake), "-o", str(out))
    _assert_clean_failure(result, 2, "notes.mp4: not a readable video", out)


def test_truncated_mp4(tmp_path: Path, out: Path) -> None:
    data = (VIDEOS / "sitting_window.mp4").read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    result = run_cli("extract", str(half), "-o", str(out))
    _assert_clean_failure(result, 2, "half.mp4", out)


def test_directory_without_videos(tmp_path: Path, out: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    (folder / "readme.txt").write_text("no videos here")
    result = run_cli("extract", str(folder), "-o", str(out))
    _assert_clean_failure(result, 2, "holiday: directory contains no video files", out)


def test_output_dir_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should be")
    result = run_cli("extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(blocker / "sub"))
    _assert_clean_failure(result, 2, "taken", tmp_path / "nothing")
    assert blocker.read_text().startswith("a file")


def test_output_dir_not_writable() -> None:
    target = Path("/proc/personframes-cannot-write-here")
    result = run_cli("extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(target))
    _assert_clean_failure(result, 2, str(target), target)


def test_bad_option_value_is_usage_error(tmp_path: Path, out: Path) -> None:
    result = run_cli(
        "extract",
        str(VIDEOS / "stage_performer.mp4"),
        "-o",
        str(out),
        "--output-jpg-quality",
        "500",
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert files_in(out) == []


def test_debug_env_shows_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = run_cli("extract", str(empty), env={"PERSONFRAMES_DEBUG": "1"})
    assert result.returncode == 2  # the traceback, and the error's own exit code
    assert "Traceback" in result.stderr
