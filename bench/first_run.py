"""What a new user feels: whole-process wall times on a fresh model cache, side by side
in one run, and whether default runs write the same bytes.

Usage: python bench/first_run.py [--video PATH] [--photo PATH] [--quick]

Prints one JSON object:
- ``version_s``: ``personframes --version`` (median of 3);
- ``restore_photo``: ``restore`` of a photo whose faces need no model, by default and
  with ``--restore-engine ncnn`` (each on a fresh model cache), and their ratio;
- ``corrupt_image``: ``restore`` of a truncated JPEG: seconds and exit code;
- ``extract``: a default extract and one with ``--no-face-restoration`` (fresh caches),
  their ratio, and how many faces were restored;
- ``same_bytes``: a second default extract on the same machine (the first one's model
  cache), and one killed with SIGKILL once it has restored a face and then resumed,
  each compared file by file with the first (``--quick`` leaves these out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def run(args: list[str], cache: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    env["PERSONFRAMES_CACHE_DIR"] = str(cache)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "personframes", *args], capture_output=True, text=True, env=env
    )
    return time.perf_counter() - start, done


def digest(folder: Path) -> dict[str, str]:
    """Every output file's SHA-256 (the state folder left out: it records timings); an
    info.json's without the one field that differs by design, the output folder."""
    hashes = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or ".personframes" in path.parts:
            continue
        data = path.read_bytes()
        if path.name.endswith("_info.json"):
            info = json.loads(data)
            info.get("config", {}).get("output", {}).pop("output_dir", None)
            data = json.dumps(info, sort_keys=True).encode()
        hashes[str(path.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return hashes


def restored_faces(folder: Path) -> int:
    total = 0
    for info in folder.glob("*_info.json"):
        outputs = json.loads(info.read_text())["outputs"]
        total += sum(1 for o in outputs if (o.get("restoration") or {}).get("restored"))
    return total


def killed_and_resumed(video: Path, out: Path, cache: Path) -> dict[str, Any]:
    """Start a default extract, SIGKILL it once a face is restored, run it again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    env["PERSONFRAMES_CACHE_DIR"] = str(cache)
    proc = subprocess.Popen(
        [sys.executable, "-m", "personframes", "extract", str(video), "-o", str(out), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    restored = out / ".personframes" / "restored"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if restored.is_dir() and any(restored.rglob("*.png")):
            break
        time.sleep(0.05)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    seconds, done = run(["extract", str(video), "-o", str(out), "-q"], cache)
    return {
        "killed_during_restoration": killed,
        "resume_s": round(seconds, 2),
        "rc": done.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "sitting_window.mp4")
    parser.add_argument(
        "--photo", type=Path, default=SHARED / "images" / "whole" / "portrait_soft.jpg"
    )
    parser.add_argument("--quick", action="store_true", help="no same-bytes runs")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pf-first-run-") as tmp:
        work = Path(tmp)
        caches = iter(work / f"cache{i}" for i in range(100))
        times = [run(["--version"], next(caches))[0] for _ in range(3)]
        result["version_s"] = round(statistics.median(times), 3)

        default, done = run(["restore", str(args.photo), "-o", str(work / "r1")], next(caches))
        assert done.returncode == 0, done.stderr
        named, done = run(
            ["restore", str(args.photo), "-o", str(work / "r2"), "--restore-engine", "ncnn"],
            next(caches),
        )
        assert done.returncode == 0, done.stderr
        same = (work / "r1" / args.photo.name).read_bytes() == args.photo.read_bytes()
        result["restore_photo"] = {
            "default_s": round(default, 2),
            "engine_named_s": round(named, 2),
            "ratio": round(default / named, 2),
            "written_as_its_own_bytes": same,
        }

        bad = work / "bad.jpg"
        data = args.photo.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
        seconds, done = run(["restore", str(bad), "-o", str(work / "r3")], next(caches))
        result["corrupt_image"] = {"s": round(seconds, 2), "rc": done.returncode}

        plain_s, done = run(
            ["extract", str(args.video), "-o", str(work / "e0"), "-q", "--no-face-restoration"],
            next(caches),
        )
        assert done.returncode == 0, done.stderr
        first_cache = next(caches)
        default_s, done = run(
            ["extract", str(args.video), "-o", str(work / "e1"), "-q"], first_cache
        )
        assert done.returncode == 0, done.stderr
        result["extract"] = {
            "video": args.video.name,
            "no_restoration_s": round(plain_s, 2),
            "default_s": round(default_s, 2),
            "ratio": round(default_s / plain_s, 2),
            "faces_restored": restored_faces(work / "e1"),
        }
        if not args.quick:
            reference = digest(work / "e1")
            # The same machine: the model cache the first run chose the engine in.
            _, done = run(["extract", str(args.video), "-o", str(work / "e2"), "-q"], first_cache)
            resumed = killed_and_resumed(args.video, work / "e3", first_cache)
            result["same_bytes"] = {
                "files": len(reference),
                "second_default_run": digest(work / "e2") == reference,
                "killed_and_resumed": digest(work / "e3") == reference,
                **resumed,
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
