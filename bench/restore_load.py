"""Restoration beside a CPU-bound neighbour: does it collapse? Prints one JSON object.

    python bench/restore_load.py [--size 128] [--reps 5] [--neighbours 1]

Each measurement runs in a fresh process (OpenMP reads its settings when it loads):
the engine chosen on this machine (``--engine``, ``--precision``; Real-ESRGAN x4plus)
restores a real face, resized to
``--size`` px, ``--reps`` times (after one warm-up); the median is reported, alone and
with ``--neighbours`` busy single-threaded processes on the machine, for each OpenMP
waiting policy: ``PASSIVE`` (threads sleep as soon as they wait: what personframes
sets unless the user set ``OMP_WAIT_POLICY``) and the OpenMP library's own default
(spin for a while, then sleep; an empty ``OMP_WAIT_POLICY``, which personframes keeps
and libgomp reads as unset). ``slowdown`` is loaded / alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FACE = ROOT.parent / "shared" / "data" / "images" / "faces" / "aligned_0240.png"


def child(size: int, reps: int, engine_name: str, precision: str) -> None:
    """Run in the measuring process: print the median seconds per face."""
    import statistics

    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from personframes.cores import engine_threads
    from personframes.models.catalogue import DEFAULT_MODEL
    from personframes.models.session import ModelSession
    from personframes.restore.loading import engine as load_engine

    engine = load_engine(ModelSession(), DEFAULT_MODEL, "cpu", engine_name, precision)
    face = np.asarray(Image.open(FACE).convert("RGB").resize((size, size), Image.LANCZOS))
    engine.run(face)
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        engine.run(face)
        runs.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "seconds": statistics.median(runs),
                "threads": engine_threads(),
                "engine": f"{engine.NAME} {engine.precision}",
            }
        )
    )


def measure(
    size: int,
    reps: int,
    policy: str,
    neighbours: int,
    engine: str = "auto",
    precision: str = "fp32",
) -> dict[str, Any]:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(neighbours)]
    try:
        out = subprocess.run(
            [
                *(sys.executable, __file__, "--child", "--size", str(size), "--reps", str(reps)),
                *("--engine", engine, "--precision", precision),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    finally:
        for process in busy:
            process.kill()
            process.wait()
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--neighbours", type=int, default=1)
    parser.add_argument("--engine", default="auto", help="auto: the engine chosen here")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.size, args.reps, args.engine, args.precision)
        return
    result: dict[str, Any] = {"size": args.size, "cores": os.cpu_count()}
    for policy in ("", "PASSIVE"):
        name = policy or "library default"
        alone = measure(args.size, args.reps, policy, 0, args.engine, args.precision)
        loaded = measure(args.size, args.reps, policy, args.neighbours, args.engine, args.precision)
        result[name] = {
            "engine": alone["engine"],
            "alone_s": round(alone["seconds"], 3),
            "loaded_s": round(loaded["seconds"], 3),
            "slowdown": round(loaded["seconds"] / alone["seconds"], 2),
            "threads": alone["threads"],
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
