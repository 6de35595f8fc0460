"""Face-restoration benchmark: prints one JSON object.

    python bench/restore.py [--sizes 64,128,256] [--reps 3] [--crops 2] [--skip-literal]
                            [--skip-engines] [--skip-load] [--skip-workflows]

1. Engine speed (Real-ESRGAN x4plus, the shipped ncnn weights): seconds per face
   (fastest of ``--reps`` warm runs, engines timed round-robin), achieved GFLOP/s
   (35.9 MFLOP per input pixel) and PSNR against ncnn fp32, at each input size, for
   every installed engine in fp32 and, where the CPU has native bf16, bf16; the
   choice ``auto`` makes (engine_choice, for --precision fp32 and auto) and its time
   over the fastest's; the machine's fp32 matmul peak (numpy 4096x4096).
   Then the chosen engine alone and beside a CPU-bound neighbour (slowdown).
2. Workflow: native-resolution restore (FaceRestorer) vs the seed's literal workflow
   (Lanczos to 512, x4 to 2048, down to 512) on the same low-res face crops, made by
   downscaling + JPEG-compressing faces of /work/shared/data/images; PSNR/SSIM
   against the original (higher-resolution) face, time ratio.
3. Setup cost (first call vs warm) and peak RSS.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personframes.cores import engine_threads
from personframes.cpu import cpu_model, native_bf16
from personframes.models import get_model
from personframes.models.catalogue import DEFAULT_MODEL
from personframes.models.session import ModelSession
from personframes.resize import fit_longest, lanczos
from personframes.restore.engine_choice import Candidate, candidates
from personframes.restore.engines import Engine
from personframes.restore.loading import engine_choice, engine_for
from personframes.restore.metrics import psnr, sharpness, ssim
from personframes.restore.restorer import create_restorer
from personframes.restore.settings import RestorationSettings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images"
MFLOP_PER_PIXEL = 35.9


def timed(fn: Any, reps: int) -> tuple[float, float]:
    """(first call seconds, median of the following ``reps`` calls)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs) if runs else first


def face_crops(count: int) -> list[np.ndarray]:
    """High-resolution face crops (square, from the detector's five points)."""
    from personframes.detect import create_face_detector

    detector = create_face_detector("centerface")
    crops = []
    for name in ("two_people.jpg", "portrait_soft.jpg", "old_photo_group.png"):
        image = np.asarray(PILImage.open(DATA / "whole" / name).convert("RGB"))
        for face in detector.detect(image):
            box = face.box
            side = int(max(box.width, box.height) * 1.2)
            cx, cy = box.center
            x0, y0 = int(cx - side / 2), int(cy - side / 2)
            if x0 < 0 or y0 < 0 or x0 + side > image.shape[1] or y0 + side > image.shape[0]:
                continue
            if side >= 96:
                crops.append(np.ascontiguousarray(image[y0 : y0 + side, x0 : x0 + side]))
            if len(crops) >= count:
                return crops
    return crops


def degrade(hr: np.ndarray, factor: int = 4, quality: int = 60) -> np.ndarray:
    side = max(8, hr.shape[0] // factor)
    small = PILImage.fromarray(hr).resize((side, side), PILImage.Resampling.BICUBIC)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=quality)
    return np.asarray(PILImage.open(buf).convert("RGB"))


def matmul_peak() -> float:
    """The machine's practical fp32 peak: numpy 4096x4096 matmul (all cores), GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.random((4096, 4096), dtype=np.float32)
    b = rng.random((4096, 4096), dtype=np.float32)
    a @ b
    best = min(timed_once(lambda: a @ b) for _ in range(3))
    return 2 * 4096**3 / best / 1e9


def timed_once(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_engines(sizes: list[int], reps: int) -> dict[str, Any]:
    """Every engine and precision at each size, timed round-robin (so that a slow
    spell of the machine hits them all alike), and the choice ``auto`` makes."""
    session = ModelSession()
    choices = {
        mode: engine_choice(session, DEFAULT_MODEL, "cpu", "auto", mode)
        for mode in ("fp32", "auto")
    }
    spec = get_model(DEFAULT_MODEL)
    cands, _ = candidates(spec, "auto", "auto", native_bf16())
    engines: dict[Candidate, Engine] = {}
    for cand in cands:
        engines[cand] = engine_for(session, DEFAULT_MODEL, "cpu", cand)
    image = np.asarray(PILImage.open(DATA / "whole" / "old_photo_group.png").convert("RGB"))
    results: dict[str, Any] = {
        "threads": engine_threads(),
        "cpu": cpu_model(),
        "native_bf16": native_bf16(),
        "auto_choice": {mode: str(c.candidate) for mode, c in choices.items()},
        "auto_choice_how": {mode: c.how for mode, c in choices.items()},
    }
    for size in sizes:
        crop = np.ascontiguousarray(image[100 : 100 + size, 200 : 200 + size])
        reference = engines[Candidate(spec.engine, "fp32")].run(crop)
        times: dict[Candidate, list[float]] = {c: [] for c in engines}
        quality = {}
        for cand, engine in engines.items():  # warm-up, and the output check
            quality[cand] = round(psnr(engine.run(crop), reference), 1)
        for _ in range(reps):
            for cand, engine in engines.items():
                times[cand].append(timed_once(lambda engine=engine, crop=crop: engine.run(crop)))
        gflop = MFLOP_PER_PIXEL * size * size / 1000
        row: dict[str, Any] = {
            str(c): {
                "warm_s": round(min(t), 3),
                "gflops": round(gflop / min(t), 1),
                "psnr_db": quality[c],
            }
            for c, t in times.items()
        }
        for mode, choice in choices.items():
            allowed = [c for c in times if mode == "auto" or c.precision == "fp32"]
            fastest = min(allowed, key=lambda c: min(times[c]))
            row[f"auto_{mode}"] = {
                "chosen": str(choice.candidate),
                "fastest": str(fastest),
                "chosen_over_fastest": round(min(times[choice.candidate]) / min(times[fastest]), 3),
                "chosen_gflops": row[str(choice.candidate)]["gflops"],
            }
        results[f"{size}px"] = row
    return results


def bench_load(size: int) -> dict[str, Any]:
    """The chosen engine alone and beside one CPU-bound neighbour (bench/restore_load.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from restore_load import measure

    alone = measure(size, 5, "PASSIVE", 0)
    loaded = measure(size, 5, "PASSIVE", 1)
    return {
        "engine": alone["engine"],
        "size": size,
        "alone_s": round(alone["seconds"], 3),
        "loaded_s": round(loaded["seconds"], 3),
        "slowdown": round(loaded["seconds"] / alone["seconds"], 2),
    }


def bench_workflows(count: int, skip_literal: bool) -> dict[str, Any]:
    session = ModelSession()
    restorer = create_restorer(session, RestorationSettings(model=DEFAULT_MODEL, device="cpu"))
    engine = restorer.load()
    rows = []
    for hr in face_crops(count):
        lr = degrade(hr)
        size = hr.shape[0]
        target = 512
        row: dict[str, Any] = {"hr_px": size, "lr_px": lr.shape[0]}
        lanczos_only = lanczos(lanczos(lr, (target, target)), (size, size))
        row["lanczos"] = {
            "psnr": round(psnr(lanczos_only, hr), 2),
            "ssim": round(ssim(lanczos_only, hr), 4),
            "sharpness": round(sharpness(lanczos_only), 1),
        }
        for strength in (1.0, 0.8):
            start = time.perf_counter()
            native = restorer.restore_crop(lr, target, strength, policy="always").image
            seconds = time.perf_counter() - start
            back = lanczos(native, (size, size))
            row[f"native_s{strength}"] = {
                "seconds": round(seconds, 3),
                "psnr": round(psnr(back, hr), 2),
                "ssim": round(ssim(back, hr), 4),
                "sharpness": round(sharpness(back), 1),
            }
        if not skip_literal:
            start = time.perf_counter()
            up = lanczos(lr, (target, target))
            big = engine.run(up)
            literal = lanczos(big, (target, target))
            final = np.clip(
                np.rint(0.8 * literal.astype(np.float64) + 0.2 * up.astype(np.float64)), 0, 255
            ).astype(np.uint8)
            seconds = time.perf_counter() - start
            back = lanczos(final, (size, size))
            row["literal_s0.8"] = {
                "seconds": round(seconds, 3),
                "psnr": round(psnr(back, hr), 2),
                "ssim": round(ssim(back, hr), 4),
                "sharpness": round(sharpness(back), 1),
            }
            row["literal_over_native_time"] = round(seconds / row["native_s0.8"]["seconds"], 1)
        rows.append(row)
    # Input-bound check: the same low-res crop at 2x resolution run natively vs bounded.
    bound_rows = []
    for hr in face_crops(count):
        lr2 = degrade(hr, factor=2)
        size = hr.shape[0]
        entry: dict[str, Any] = {"lr_px": lr2.shape[0]}
        for label, side in (("bounded_128", 128), ("native", lr2.shape[0])):
            model_in = lanczos(lr2, fit_longest(lr2.shape[1], lr2.shape[0], side))
            start = time.perf_counter()
            out = lanczos(engine.run(model_in), (size, size))
            entry[label] = {
                "seconds": round(time.perf_counter() - start, 3),
                "psnr": round(psnr(out, hr), 2),
                "ssim": round(ssim(out, hr), 4),
            }
        bound_rows.append(entry)
    return {
        "crops": rows,
        "input_bound": bound_rows,
        "setup_s": {f"{k[0]}@{k[1]}": round(v, 3) for k, v in session.load_seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--crops", type=int, default=2)
    parser.add_argument("--skip-literal", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-workflows", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {"load_average_1m": round(os.getloadavg()[0], 2)}
    if not args.skip_engines:
        out["matmul_peak_gflops"] = round(matmul_peak(), 1)
        out["engines"] = bench_engines([int(s) for s in args.sizes.split(",")], args.reps)
    if not args.skip_load:
        out["loaded_neighbour"] = bench_load(128)
    if not args.skip_workflows:
        out["workflows"] = bench_workflows(args.crops, args.skip_literal)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
