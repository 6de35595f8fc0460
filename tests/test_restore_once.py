"""Restoration decided once per machine and paid for only where it is used: the engine
choice measured by the first run that needs the model and read by every later process,
two processes at once measuring once, a resumed extract restoring with the engine its
first run recorded, inputs checked before any model loads, and a photo with nothing
to restore written as its own bytes. Real engines, real images and videos, CLI
subprocesses (what each process measures is the point)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage

from .util import IMAGES, VIDEOS, run_cli, state_db

CHOICES = "engine-choices.json"
# One model run on a 64 px aligned face (policy "always"): about a second of model time.
ALWAYS = ["--aligned", "--upscale", "2", "--face-restoration-policy", "always"]


def _small_face(folder: Path) -> Path:
    path = folder / "face.png"
    with PILImage.open(IMAGES / "faces" / "aligned_0240.png") as face:
        face.convert("RGB").resize((64, 64), PILImage.Resampling.LANCZOS).save(path)
    return path


def _start(*args: str, cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "personframes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(cache),
    )


def _env(cache: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    return env | {"PERSONFRAMES_CACHE_DIR": str(cache)}


@pytest.mark.slow
def test_two_processes_at_once_measure_once_and_later_ones_read_the_choice(
    tmp_path: Path,
) -> None:
    face = _small_face(tmp_path)
    cache = tmp_path / "cache"
    procs = [
        _start("restore", str(face), "-o", str(tmp_path / f"out{i}"), *ALWAYS, cache=cache)
        for i in range(2)
    ]
    errs = []
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        errs.append(err)
    assert sum(err.count("measuring") for err in errs) == 1, errs
    saved = json.loads((cache / CHOICES).read_text())
    (entry,) = [v for k, v in saved.items() if not k.startswith("trials:")]
    # Both restored with the one choice: the same pixels.
    one, two = (tmp_path / f"out{i}" / "face.png" for i in range(2))
    assert one.read_bytes() == two.read_bytes()
    later = run_cli("restore", str(face), "-o", str(tmp_path / "later"), *ALWAYS, env=_env(cache))
    assert later.returncode == 0, later.stderr
    assert "measuring" not in later.stderr
    assert (tmp_path / "later" / "face.png").read_bytes() == one.read_bytes()
    assert json.loads((cache / CHOICES).read_text()) == saved  # read, not measured again
    assert entry["engine"] in ("ncnn", "onnxruntime", "openvino", "torch")


def test_a_photo_with_nothing_to_restore_is_its_own_bytes_and_measures_nothing(
    tmp_path: Path,
) -> None:
    photo = IMAGES / "whole" / "portrait_soft.jpg"  # large sharp faces: left as is
    cache = tmp_path / "cache"
    done = run_cli("restore", str(photo), "-o", str(tmp_path / "out"), env=_env(cache))
    assert done.returncode == 0, done.stderr
    assert "left as is" in done.stderr and "restored at" not in done.stderr
    assert (tmp_path / "out" / photo.name).read_bytes() == photo.read_bytes()
    assert not (cache / CHOICES).exists()  # no face needed the model: nothing measured


def test_a_restored_jpeg_keeps_the_source_quantisation_tables(tmp_path: Path) -> None:
    source = IMAGES / "whole" / "lowres_portrait_a.jpg"
    done = run_cli(
        "restore", str(source), "-o", str(tmp_path), "--upscale", "2", "--restore-engine", "ncnn"
    )
    assert done.returncode == 0, done.stderr
    with PILImage.open(source) as before, PILImage.open(tmp_path / source.name) as after:
        assert after.format == "JPEG"
        assert after.quantization == before.quantization  # type: ignore[attr-defined]


_PROBE = (
    "import sys\n"
    "from personframes.entry import main\n"
    "sys.argv = ['personframes', 'restore', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    loaded = [m for m in ('ncnn', 'onnxruntime', 'ai_edge_litert', 'dlib') "
    "if m in sys.modules]\n"
    "    print(exc.code, ','.join(loaded) or 'none')\n"
)


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
def test_restore_refuses_a_bad_image_before_loading_a_model(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.jpg"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "text":
        bad.write_text("not an image\n")
    else:
        data = (IMAGES / "whole" / "two_people.jpg").read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(bad), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "cache"),
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0], done.stderr
    assert done.stdout.split() == ["2", "none"]  # exit 2, no inference library loaded
    assert not (tmp_path / "out" / "bad.jpg").exists()


@pytest.mark.expect_error_log
def test_restore_of_a_folder_goes_past_an_unreadable_image_and_fails_at_the_end(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(IMAGES / "whole" / "portrait_soft.jpg", folder / "a.jpg")
    (folder / "b.jpg").write_text("not an image\n")
    data = (IMAGES / "whole" / "two_people.jpg").read_bytes()
    (folder / "c.jpg").write_bytes(data[: len(data) // 3])
    shutil.copy(IMAGES / "whole" / "two_people.jpg", folder / "d.jpg")
    done = run_cli("restore", str(folder), "-o", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "d.jpg"]
    assert "2 of 4 images could not be restored" in done.stderr.splitlines()[-1]
    assert "b.jpg" in done.stderr and "c.jpg" in done.stderr


def test_version_and_help_load_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from personframes.cli import cli\n"
        "for args in (['--version'], ['--help']):\n"
        "    try:\n"
        "        cli.main(args=args, prog_name='personframes')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('numpy', 'cv2', 'pydantic', 'personframes.config', 'onnx', 'ncnn')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _restored_engines(out: Path) -> list[tuple[str, str]]:
    info = json.loads((out / "sitting_window_info.json").read_text())
    return [
        (o["restoration"]["engine"], o["restoration"]["precision"])
        for o in info["outputs"]
        if o.get("restoration", {}).get("restored")
    ]


@pytest.mark.slow
def test_a_resumed_extract_restores_with_the_engine_its_first_run_recorded(
    tmp_path: Path,
) -> None:
    """The first run restores on the ONNX Runtime engine (named); the resumed run, with
    an empty model cache and the engine left to choose, must not measure and must
    restore the rest on ONNX Runtime too: the same faces an uninterrupted run writes."""
    video = VIDEOS / "sitting_window.mp4"
    args = ["--max-frames", "3", "--no-full-frames", "--output-format", "png"]
    out = tmp_path / "out"
    first = run_cli(
        "extract", str(video), "-o", str(out), *args, "--restore-engine", "onnxruntime",
        env=_env(tmp_path / "cache1"),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    engines = _restored_engines(out)
    assert engines and set(engines) == {("onnxruntime", "fp32")}
    uninterrupted = {p.name: p.read_bytes() for p in out.glob("*_face_*.png")}
    # As if killed after the first restored face: the later faces' records and files go.
    database = state_db(out)
    with sqlite3.connect(database) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM records WHERE step='write'")]
        faces = sorted(k for k in keys if "_face_" in k)
        assert len(faces) >= 2
        for key in faces[1:]:
            db.execute("DELETE FROM records WHERE step='write' AND key=?", (key,))
            (out / key).unlink()
        db.execute(
            "DELETE FROM records WHERE step='restored' AND key NOT LIKE '~%' AND key NOT IN "
            "(SELECT json_extract(data, '$.restored_key') FROM records WHERE step='write' "
            "AND json_extract(data, '$.restored_key') IS NOT NULL)"
        )
        db.execute("UPDATE steps SET done=0 WHERE step IN ('write', 'manifest')")
    empty = tmp_path / "cache2"
    resumed = run_cli("extract", str(video), "-o", str(out), *args, env=_env(empty))
    assert resumed.returncode == 0, resumed.stderr
    assert "measuring" not in resumed.stderr
    assert not (empty / CHOICES).exists()
    assert set(_restored_engines(out)) == {("onnxruntime", "fp32")}
    assert {p.name: p.read_bytes() for p in out.glob("*_face_*.png")} == uninterrupted
