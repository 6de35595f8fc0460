"""``--shard K/N``: shards of one batch run at once into one output folder give the same
files as one unsharded run, each video done by exactly one shard; ``personframes summary``
then reports them all. And the state of an earlier version (one database for the whole
folder) is moved into per-video databases without redoing any work."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from personframes.state.index import in_shard

from .util import VIDEOS, make_video, moving_square_frames, run_cli, run_cli_in_process

ARGS = ["--max-frames", "6", "--no-face-restoration"]


def _tree(folder: Path) -> dict[str, str]:
    """Every file the run wrote (the state folder excluded): relative path -> SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".personframes" not in p.relative_to(folder).parts
    }


def _done(stderr: str) -> set[str]:
    """The videos a run's summary table lists as done."""
    return set(re.findall(r"^\s*(\S+\.mp4)\s+done\s", stderr, re.MULTILINE))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four videos: the two shared ones and two small ones without people, made so
    that each shard of two has at least one (a split by content can put the shared two
    in one shard)."""
    folder = tmp_path_factory.mktemp("batch")
    for name in ("sitting_window", "stage_performer"):
        shutil.copy(VIDEOS / f"{name}.mp4", folder / f"{name}.mp4")
    make_video(folder / "empty_a.mp4", moving_square_frames(10))
    shards = {in_shard(video, (1, 2)) for video in folder.glob("*.mp4")}
    for frames in range(11, 40):
        last = make_video(folder / "empty_b.mp4", moving_square_frames(frames))
        if shards | {in_shard(last, (1, 2))} == {False, True}:
            break
    assert {in_shard(video, (1, 2)) for video in folder.glob("*.mp4")} == {False, True}
    return folder


@pytest.mark.slow
def test_two_shards_at_once_equal_one_run(tmp_path: Path, batch: Path) -> None:
    out = tmp_path / "out"
    local = run_cli("extract", str(batch), "-o", str(out), *ARGS)
    assert local.returncode == 0, local.stderr
    everything = _done(local.stderr)
    assert len(everything) == 4, local.stderr
    expected = _tree(out)
    out.rename(tmp_path / "local")  # the shards write to the same path: same info.json

    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    command = [sys.executable, "-m", "personframes", "extract", str(batch), "-o", str(out)]
    shards = [
        subprocess.Popen(
            [*command, *ARGS, "--shard", f"{number}/2"],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for number in (0, 1)
    ]
    errors = [shard.communicate(timeout=900)[1] for shard in shards]
    for shard, err in zip(shards, errors, strict=True):
        assert shard.returncode == 0, err
        assert "Traceback" not in err
    done = [_done(err) for err in errors]
    assert done[0] and done[1], errors  # both shards had work
    assert not done[0] & done[1]  # no video done twice
    assert done[0] | done[1] == everything
    for mine, err in zip(done, errors, strict=True):
        assert (
            f"{len(mine)} done, 0 skipped, 0 failed, {4 - len(mine)} left to the other shards"
            in err
        )
    assert _tree(out) == expected  # byte for byte, info.json included

    again = run_cli("extract", str(batch), "-o", str(out), *ARGS, "--shard", "1/2")
    assert again.returncode == 0, again.stderr
    assert f"0 done, {len(done[1])} skipped" in again.stderr  # resumes, redoes nothing

    summary = run_cli("summary", str(out))
    assert summary.returncode == 0, summary.stderr
    assert _done(summary.stderr) == everything
    assert "4 done, 0 skipped, 0 failed" in summary.stderr


@pytest.mark.slow
def test_restored_faces_are_the_same_bytes_from_a_shard(tmp_path: Path) -> None:
    """With restoration on (the default): a shard writes what a local run writes,
    info.json included (it records no timings)."""
    video = VIDEOS / "sitting_window.mp4"
    out = tmp_path / "out"
    args = ["extract", str(video), "-o", str(out), "--max-frames", "3"]
    local = run_cli(*args)
    assert local.returncode == 0, local.stderr
    info = json.loads((out / "sitting_window_info.json").read_text())
    assert info["summary"]["restorations"] >= 1
    expected = _tree(out)
    out.rename(tmp_path / "local")
    for number in (0, 1):
        shard = run_cli(*args, "--shard", f"{number}/2")
        assert shard.returncode == 0, shard.stderr
    assert _tree(out) == expected


def test_bad_shard_is_one_line(tmp_path: Path) -> None:
    for shard in ("2/2", "a/b", "1/0", "-1/2"):
        result = run_cli_in_process(
            "extract", str(VIDEOS), "-o", str(tmp_path / "out"), "--shard", shard
        )
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "shard" in lines[0] and "0 <= K < N" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_summary_of_a_folder_extract_did_not_write_is_one_line(tmp_path: Path) -> None:
    result = run_cli_in_process("summary", str(tmp_path))
    assert result.returncode == 2
    assert (
        result.stderr.startswith("personframes: error:") and "not a personframes" in result.stderr
    )


OLD_SCHEMA = """
CREATE TABLE steps (video_key TEXT NOT NULL, step TEXT NOT NULL, config_hash TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, progress INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (video_key, step));
CREATE TABLE records (video_key TEXT NOT NULL, step TEXT NOT NULL, key TEXT NOT NULL,
    seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (video_key, step, key));
CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    video_key TEXT NOT NULL);
CREATE TABLE names (stem TEXT PRIMARY KEY, folded TEXT NOT NULL UNIQUE,
    video_key TEXT NOT NULL UNIQUE, path TEXT NOT NULL);
CREATE TABLE review_decisions (path TEXT PRIMARY KEY, decision TEXT NOT NULL,
    updated REAL NOT NULL);
CREATE TABLE review_people (person TEXT PRIMARY KEY, merged_into TEXT, name TEXT);
"""


def _as_earlier_version(out: Path, rejected: str) -> None:
    """Rewrite this version's state of ``out`` as the earlier version kept it: one
    database for the folder (with a review decision), no per-video files."""
    state = out / ".personframes"
    old = sqlite3.connect(state / "state.sqlite")
    old.executescript(OLD_SCHEMA)
    for video in sorted((state / "videos").iterdir()):
        one = sqlite3.connect(video / "state.sqlite")
        old.executemany("INSERT INTO steps VALUES (?,?,?,?,?)", one.execute("SELECT * FROM steps"))
        old.executemany(
            "INSERT INTO records VALUES (?,?,?,?,?)", one.execute("SELECT * FROM records")
        )
        one.close()
        named = json.loads((video / "video.json").read_text())
        old.execute(
            "INSERT INTO names VALUES (?,?,?,?)",
            (named["stem"], named["stem"].casefold(), video.name, named["path"]),
        )
    for entry in (state / "paths").iterdir():
        cached = json.loads(entry.read_text())
        old.execute(
            "INSERT INTO files VALUES (?,?,?,?)",
            (cached["path"], cached["size"], cached["mtime_ns"], cached["video_key"]),
        )
    old.execute("INSERT INTO review_decisions VALUES (?, 'rejected', 1.0)", (rejected,))
    old.commit()
    old.close()
    for name in ("videos", "paths", "names"):
        shutil.rmtree(state / name)


@pytest.mark.slow
def test_state_of_the_earlier_version_is_moved_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    video = VIDEOS / "stage_performer.mp4"
    first = run_cli("extract", str(video), "-o", str(out), *ARGS)
    assert first.returncode == 0, first.stderr
    written = _tree(out)
    rejected = json.loads((out / "stage_performer_info.json").read_text())["outputs"][0]["file"]
    _as_earlier_version(out, rejected)

    export = run_cli("export", str(out), str(tmp_path / "dataset"), "--format", "jsonl")
    assert export.returncode == 2 and "earlier personframes version" in export.stderr
    again = run_cli("extract", str(video), "-o", str(out), *ARGS)
    assert again.returncode == 0, again.stderr
    assert "0 done, 1 skipped" in again.stderr  # nothing redone
    assert _tree(out) == written
    assert list((out / ".personframes").glob("state.sqlite.migrated-*"))  # kept, renamed
    assert not (out / ".personframes" / "state.sqlite").exists()
    export = run_cli(
        "export",
        str(out),
        str(tmp_path / "dataset"),
        "--format",
        "jsonl",
        "--include",
        "unreviewed",
    )
    assert export.returncode == 0, export.stderr
    lines = (tmp_path / "dataset" / "dataset.jsonl").read_text().splitlines()
    assert rejected not in {json.loads(line)["file"] for line in lines}  # review kept
    assert (
        len(lines)
        == len(json.loads((out / "stage_performer_info.json").read_text())["outputs"]) - 1
    )
