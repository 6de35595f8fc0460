"""Peak memory of `personframes restore` on a large image with one face.

    python bench/restore_memory.py                        # 12000 x 12000: auto, always, upscale2
    python bench/restore_memory.py --size 6000x4000 --scenarios auto

Prints one JSON document on stdout. Each scenario is a fresh
``python -m personframes restore`` process and its peak RSS comes from ``os.wait4``.
The images (a smooth canvas with one real face of the shared data, 2048 px) are made
by another process, so that this one stays small: Linux carries a parent's peak into
the children it starts.

Per scenario, a baseline run of the same command on a canvas just larger than the face
measures what does not grow with the image (Python, libraries, models, the face's own
work). ``ratio`` is the peak over the decoded image's bytes (width x height x 3 uint8;
for ``upscale2`` the output's), ``ratio_over_baseline`` is (peak - baseline) over them.
Target: ``ratio_over_baseline`` < 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FACE = REPO.parent / "shared" / "data" / "images" / "faces" / "aligned_0143.png"
FACE_PX = 2048  # big enough to be found by the detector on a 12000 px image (640 px view)
BASELINE_SIDE = FACE_PX + 352

SCENARIOS: dict[str, tuple[list[str], int]] = {  # name: (extra CLI args, upscale)
    "auto": ([], 1),  # the default policy: this face is left as is (too large to be worth it)
    "always": (["--face-restoration-policy", "always"], 1),  # the model runs, face pasted back
    "upscale2": (["--upscale", "2"], 2),  # the whole image resized, the face from its pixels
}

_MAKE = """
import sys
import numpy as np
from PIL import Image
path, width, height, face_px = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
face = Image.open(sys.argv[5]).convert("RGB").resize((face_px, face_px), Image.Resampling.LANCZOS)
rows = np.linspace(60, 200, height, dtype=np.float32)[:, None]
cols = np.linspace(0, 40, width, dtype=np.float32)[None, :]
grey = (rows + cols).astype(np.uint8)
canvas = np.dstack([grey, grey, grey])
y, x = (height - face_px) // 2, (width - face_px) // 2
canvas[y : y + face_px, x : x + face_px] = np.asarray(face)
Image.fromarray(canvas).save(path, quality=90)
"""


def make_image(path: Path, width: int, height: int) -> Path:
    """A JPEG of a smooth canvas with the face in the middle, made in another process."""
    args = [str(path), str(width), str(height), str(FACE_PX), str(FACE)]
    subprocess.run([sys.executable, "-c", _MAKE, *args], check=True)
    return path


def measure(image: Path, out: Path, args: list[str]) -> dict[str, Any]:
    """Run the CLI once; its exit code, stderr, seconds and peak RSS (MB)."""
    command = [sys.executable, "-m", "personframes", "restore", str(image), "-o", str(out), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    started = time.perf_counter()
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": proc.returncode,
        "stderr": stderr.strip(),
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="12000x12000", help="WIDTHxHEIGHT of the big image")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    opts = parser.parse_args()
    width, height = (int(v) for v in opts.size.lower().split("x"))
    names = [n for n in opts.scenarios.split(",") if n]
    results: dict[str, Any] = {"size": [width, height], "face_px": FACE_PX, "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        big = make_image(Path(tmp) / "big.jpg", width, height)
        small = make_image(Path(tmp) / "small.jpg", BASELINE_SIDE, BASELINE_SIDE)
        for name in names:
            args, upscale = SCENARIOS[name]
            base = measure(small, Path(tmp) / f"{name}-base", args)
            run = measure(big, Path(tmp) / f"{name}-big", args)
            image_mb = width * height * 3 * upscale * upscale / 2**20
            results["scenarios"][name] = {
                "args": args,
                "image_mb": round(image_mb, 1),
                "baseline": base,
                "big": run,
                "ratio": round(run["peak_rss_mb"] / image_mb, 2),
                "ratio_over_baseline": round(
                    (run["peak_rss_mb"] - base["peak_rss_mb"]) / image_mb, 2
                ),
            }
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
