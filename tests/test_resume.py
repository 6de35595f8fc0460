"""Interruption safety with the real CLI: kill -9 / SIGINT mid-run, rerun, same result."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from .util import VIDEOS, files_in, run_cli, state_db

VIDEO = VIDEOS / "stage_performer.mp4"
ENV = {"PERSONFRAMES_PIPELINE__COMMIT_EVERY": "3"}
ARGS = ["--max-frames", "24", "--no-face-restoration"]


def _start(out: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    env.update(ENV)
    return subprocess.Popen(
        [sys.executable, "-m", "personframes", "extract", str(VIDEO), "-o", str(out), *ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _digest(folder: Path) -> dict[str, str]:
    """Content hash of every output file; info.json without the (differing) output folder."""
    digest = {}
    for name in files_in(folder):
        data = (folder / name).read_bytes()
        if name.endswith("_info.json"):
            info = json.loads(data)
            assert info["config"]["output"]["output_dir"] == str(folder)
            info["config"]["output"]["output_dir"] = None
            data = json.dumps(info, sort_keys=True).encode()
        digest[name] = hashlib.sha256(data).hexdigest()
    return digest


def _scan_progress(out: Path) -> int:
    found = list(out.glob(".personframes/videos/*/state.sqlite"))
    if not found:
        return -1
    db = found[0]
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute("SELECT max(progress) FROM steps WHERE step='scan'").fetchone()
    except sqlite3.Error:
        return -1
    return -1 if row is None or row[0] is None else int(row[0])


def _wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[str], limit: float = 120
) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reference")
    result = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, env=ENV)
    assert result.returncode == 0, result.stderr
    digest = _digest(out)
    assert len(digest) > 10
    return digest


def _written(out: Path) -> int:
    return sum(1 for name in files_in(out) if name.endswith(".jpg"))


KILL_POINTS: dict[str, Callable[[Path], bool]] = {
    "during_scan": lambda out: _scan_progress(out) >= 0,
    "late_scan": lambda out: _scan_progress(out) >= 50,
    "during_write": lambda out: _written(out) >= 5,
    "late_write": lambda out: _written(out) >= 30,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_then_rerun_gives_identical_output(
    tmp_path: Path, reference: dict[str, str], point: str
) -> None:
    out = tmp_path / "out"
    proc = _start(out)
    reached = _wait_for(lambda: KILL_POINTS[point](out), proc)
    proc.kill()  # SIGKILL: no chance to clean up
    proc.communicate()
    assert reached or proc.returncode == 0, f"kill point {point} never reached"
    result = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, env=ENV)
    assert result.returncode == 0, result.stderr
    assert _digest(out) == reference
    assert not list(out.glob(".pf-tmp-*"))


def test_sigint_saves_and_says_how_to_resume(tmp_path: Path, reference: dict[str, str]) -> None:
    out = tmp_path / "out"
    proc = _start(out)
    assert _wait_for(lambda: _scan_progress(out) >= 0, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "resume" in stderr and "Traceback" not in stderr
    result = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, env=ENV)
    assert result.returncode == 0, result.stderr
    assert _digest(out) == reference


def test_rerun_of_finished_video_skips(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert first.returncode == 0, first.stderr
    before = {p: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    second = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert second.returncode == 0 and "1 skipped" in second.stderr
    assert {p: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before
    # A changed output option reruns only what depends on it, and replaces the files.
    third = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, "--output-format", "png")
    assert third.returncode == 0, third.stderr
    names = files_in(out)
    assert not any(n.endswith(".jpg") for n in names) and any(n.endswith(".png") for n in names)


def test_keep_temp_keeps_candidates_and_crops_before_restoration(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Strength 0 restores with Lanczos alone: the crops still pass through restoration.
    args = ["--max-frames", "5", "--face-restoration-strength", "0"]
    first = run_cli("extract", str(VIDEO), "-o", str(out), *args, "--keep-temp")
    assert first.returncode == 0, first.stderr
    temp = out / ".personframes" / "temp" / VIDEO.stem
    assert f"intermediate files kept in {temp}" in first.stderr
    info = json.loads((out / f"{VIDEO.stem}_info.json").read_text())

    candidates = sorted(p.name for p in (temp / "candidates").iterdir())
    assert len(candidates) == info["summary"]["candidates"] == 5
    with Image.open(temp / "candidates" / candidates[0]) as frame:
        assert frame.size == (640, 360)
    chosen = {f"frame_{o['frame_index']:06d}.png" for o in info["outputs"]}
    assert chosen <= set(candidates)

    faces = [o for o in info["outputs"] if o["kind"] == "face"]
    assert faces
    for face in faces:
        raw = temp / "before_restoration" / face["file"].replace(".jpg", ".png")
        with Image.open(raw) as crop:  # the crop at source resolution, before resizing
            assert list(crop.size) == [round(v) for v in face["crop_box_xywh"][2:]]
            assert max(face["size"]) == 512  # then brought to the 512 px target

    # Without the flag, a later run leaves no intermediate files behind.
    second = run_cli("extract", str(VIDEO), "-o", str(out), *args)
    assert second.returncode == 0 and "1 skipped" in second.stderr
    assert not (out / ".personframes" / "temp").exists()


def test_no_intermediate_files_without_keep_temp(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("extract", str(VIDEO), "-o", str(out), "--max-frames", "3")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / f"{VIDEO.stem}_info.json").read_text())
    assert not (out / ".personframes" / "temp").exists()


def test_frame_that_seeking_does_not_reach_is_decoded_from_the_start(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert first.returncode == 0, first.stderr
    info = json.loads((out / f"{VIDEO.stem}_info.json").read_text())
    last = max(o["frame_index"] for o in info["outputs"])
    # Make the scan's record of the last chosen frame disagree with what a seek decodes
    # (as a file with repeated timestamps would), then redo only the write step.
    with sqlite3.connect(state_db(out)) as db:
        (data,) = db.execute(
            "SELECT data FROM records WHERE step='scan' AND key=?", (f"{last:09d}",)
        ).fetchone()
        record = json.loads(data)
        record["dhash"] = f"{int(record['dhash'], 16) ^ 0xFF:016x}"
        db.execute(
            "UPDATE records SET data=? WHERE step='scan' AND key=?",
            (json.dumps(record), f"{last:09d}"),
        )
    second = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, "--output-format", "png")
    assert second.returncode == 0, second.stderr
    assert f"frame seeking: frame {last}" in second.stderr
    redo = json.loads((out / f"{VIDEO.stem}_info.json").read_text())
    assert [o["frame_index"] for o in redo["outputs"]] == [
        o["frame_index"] for o in info["outputs"]
    ]
    assert any(k.startswith("frame seeking") for k in redo["summary"]["fallbacks"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run (ARGS) that the tests below copy, then edit and rerun."""
    out = tmp_path_factory.mktemp("finished") / "out"
    first = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert first.returncode == 0, first.stderr
    return out


def _copy_of(finished: Path, out: Path) -> Path:
    """A copy of the finished run at ``out`` (a moved output folder resumes as itself)."""
    shutil.copytree(finished, out, symlinks=True)
    return out


def _tamper(out: Path, step: str, name: str) -> None:
    """Point one stored record of ``step`` at ``name`` (as an attacker or a bad editor)."""
    with sqlite3.connect(state_db(out)) as db:
        key, data = db.execute(
            "SELECT key, data FROM records WHERE step=? AND data LIKE '%\"file\"%' LIMIT 1",
            (step,),
        ).fetchone()
        record = json.loads(data)
        record["file"] = name
        db.execute(
            "UPDATE records SET data=? WHERE step=? AND key=?", (json.dumps(record), step, key)
        )


@pytest.mark.parametrize(
    ("step", "name"),
    [("write", "../victim.txt"), ("write", "ABS"), ("select", "../../escaped.jpg")],
)
def test_state_paths_outside_the_output_folder_set_the_database_aside(
    tmp_path: Path, finished: Path, step: str, name: str
) -> None:
    """Stored names that lead outside OUT: the database is renamed aside (not deleted),
    a WARNING says so, the video is processed afresh, and nothing outside OUT is touched."""
    out = tmp_path / "deep" / "out"
    victim = tmp_path / "deep" / "victim.txt"
    victim.parent.mkdir(parents=True)
    victim.write_text("keep me")
    _copy_of(finished, out)
    expected = _digest(finished)
    _tamper(out, step, str(victim) if name == "ABS" else name)
    if step == "write":  # a changed write option: the rerun discards and rewrites its files
        second = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS, "--output-format", "png")
    else:  # the write step left unfinished: the rerun writes what select planned
        with sqlite3.connect(state_db(out)) as db:
            db.execute("DELETE FROM records WHERE step='write'")
            db.execute("UPDATE steps SET done=0, progress=-1 WHERE step='write'")
        second = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert second.returncode == 0, second.stderr
    assert "state database failed its check" in second.stderr and "set aside" in second.stderr
    assert "Traceback" not in second.stderr
    assert victim.read_text() == "keep me"
    assert (
        not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "deep" / "escaped.jpg").exists()
    )
    aside = sorted(out.glob(".personframes/videos/*/state.sqlite.invalid-*"))
    assert any(p.name.endswith(".reason.txt") for p in aside)
    assert any(p.suffix not in (".txt",) and "-journal" not in p.name for p in aside)
    if step == "select":  # processed afresh: the same files as the first run
        assert _digest(out) == expected
    assert run_cli("extract", str(VIDEO), "-o", str(out), *ARGS).returncode == 0


def test_a_damaged_state_database_is_set_aside(tmp_path: Path, finished: Path) -> None:
    out = _copy_of(finished, tmp_path / "out")
    expected = _digest(finished)
    db = state_db(out)
    db.write_bytes(b"not a database at all" * 100)
    second = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert second.returncode == 0, second.stderr
    assert "set aside" in second.stderr
    assert _digest(out) == expected
    kept = [p for p in db.parent.glob("state.sqlite.invalid-*") if not p.name.endswith(".txt")]
    assert [p.read_bytes() for p in kept] == [b"not a database at all" * 100]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            "UPDATE records SET data='\"../x\"' WHERE rowid=(SELECT min(rowid) FROM records)",
            id="string-record",
        ),
        *(
            pytest.param(edit, id=name, marks=pytest.mark.slow)
            for name, edit in (
                (
                    "not-json",
                    "UPDATE records SET data='{not json'"
                    " WHERE rowid=(SELECT min(rowid) FROM records)",
                ),
                ("text-progress", "UPDATE steps SET progress='abc' WHERE step='scan'"),
                ("empty-info", "UPDATE records SET data='{}' WHERE step='scan' AND key='~info'"),
                ("no-select-info", "DELETE FROM records WHERE step='select' AND key='~info'"),
                (
                    "face-not-scanned",
                    "UPDATE records SET data=json_set(data, '$.face', 99) WHERE step='write'",
                ),
                (
                    "box-of-wrong-type",
                    "UPDATE records SET data=json_set(data, '$.faces[0].box', 'wide')"
                    " WHERE step='scan'",
                ),
            )
        ),
        pytest.param(
            "UPDATE steps SET step=CAST(x'b7bf' AS TEXT) WHERE step='scan'", id="not-utf8"
        ),
    ],
)
def test_records_that_do_not_fit_set_the_database_aside(
    tmp_path: Path, finished: Path, edit: str
) -> None:
    """Found by the fuzz pass (tests/test_fuzz.py): each edit once crashed the rerun with
    an internal error; now the database fails its check before any step reads it."""
    out = _copy_of(finished, tmp_path / "out")
    expected = _digest(finished)
    with sqlite3.connect(state_db(out)) as db:
        db.execute(edit)
    second = run_cli("extract", str(VIDEO), "-o", str(out), *ARGS)
    assert second.returncode == 0, second.stderr
    assert "state database failed its check" in second.stderr
    assert "Traceback" not in second.stderr and "internal error" not in second.stderr
    assert _digest(out) == expected
