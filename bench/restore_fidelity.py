"""Face-restoration fidelity against real high-resolution truth: prints one JSON object.

    python bench/restore_fidelity.py [--quick] [--records FILE] [--cache DIR]

Truth: head crops of the larger faces in ../shared/data/images (whole photos and the
aligned faces) and in the sharpest labelled frames of ../shared/data/videos (face
box from the hand labels, detector box for the face size), capped at 256 px.

Inputs are made the way cameras and the web make them: downscaled by ``factor``
(area filter; factor 1 = the truth's own size), then one of
clean / jpeg75 / jpeg40 (JPEG at that quality) / blur (Gaussian sigma 1 px) /
noise (Gaussian sigma 5 grey levels, then JPEG 85).

Each way of producing the face at the truth's size is scored against the truth:
PSNR (RGB), SSIM on luma, and sharpness relative to the truth (Laplacian variance
ratio; 1.0 = as sharp as the truth):
- ``lanczos``: Lanczos resize only;
- ``x4plus@s``: Real-ESRGAN x4plus on the native-size input, resized to the target,
  blended with Lanczos at strength s (the restorer's formula);
- ``x4plus-bounded@0.8``: the first round's default (input shrunk to 128 px first);
- ``animev3@s``: realesr-animevideov3 x4 (the same package; much faster), native input;
- ``policy``: what ``personframes.restore.policy.decide`` chooses for the input
  (the default policy, strength cap 0.8), and ``always@0.8`` (policy "always").

Results are grouped in buckets of source face size (detector box height in the input,
px) and upscale factor; each bucket reports means and the policy's margins over
Lanczos (target: SSIM >= Lanczos - 0.005, PSNR >= Lanczos - 0.3 dB). Model outputs
are cached in --cache (keyed by the input's bytes), so reruns cost seconds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personframes.detect import create_face_detector
from personframes.models.session import ModelSession
from personframes.output.crops import crop_box, cut
from personframes.resize import fit_longest, lanczos
from personframes.restore.loading import engine as load_engine
from personframes.restore.metrics import blur_index, psnr, sharpness, ssim
from personframes.restore.policy import DEFAULT_POLICY, Policy, face_features
from personframes.restore.restorer import blend
from personframes.types import Box, Image
from personframes.video.decode import VideoReader

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRUTH_MAX = 256
# A truth must be crisp at its own size: the shared photos and video frames measure
# blur_index 0.44-0.67; the aligned 512 px faces 0.86-0.91 (upscaled from far
# smaller faces: their pixels hold no more than a Lanczos resize would, so
# "restoring" towards them rewards blur). Such faces are left out, and said so.
TRUTH_MAX_BLUR = 0.70
STRENGTHS = (0.25, 0.5, 0.65, 0.8, 1.0)
FACTORS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
DEGRADATIONS = ("clean", "jpeg75", "jpeg40", "blur", "noise")
SIZE_EDGES = (24, 48, 96, 192)  # face px bucket edges
FACTOR_EDGES = (1.0, 2.0, 3.0, 5.0)  # (..1], (1..2], (2..3], (3..5], (5..]


@dataclass
class Truth:
    name: str
    image: Image  # head crop, the truth
    face_px: float  # detector box height in the truth crop's pixels


def area_resize(image: Image, size: tuple[int, int]) -> Image:
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def jpeg(image: Image, quality: int) -> Image:
    buffer = io.BytesIO()
    PILImage.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(PILImage.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def degrade(truth: Image, factor: float, kind: str, seed: int) -> Image:
    h, w = truth.shape[:2]
    size = (max(8, round(w / factor)), max(8, round(h / factor)))
    low = truth if factor == 1.0 else area_resize(truth, size)
    if kind == "jpeg75":
        return jpeg(low, 75)
    if kind == "jpeg40":
        return jpeg(low, 40)
    if kind == "blur":
        return np.asarray(cv2.GaussianBlur(low, (0, 0), 1.0), dtype=np.uint8)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        noisy = low.astype(np.float64) + rng.normal(0, 5.0, low.shape)
        return jpeg(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), 85)
    return low


def _head_crop(image: Image, box: Box) -> Image:
    h, w = image.shape[:2]
    return cut(image, crop_box(box, w, h, 0.3))


def _cap(crop: Image, face_px: float) -> tuple[Image, float]:
    h, w = crop.shape[:2]
    if max(h, w) <= TRUTH_MAX:
        return crop, face_px
    size = fit_longest(w, h, TRUTH_MAX)
    return area_resize(crop, size), face_px * size[0] / w


def collect_truths(min_face: int, per_video: int) -> tuple[list[Truth], list[dict[str, Any]]]:
    """Crisp truths, and the faces left out for being soft (name, blur_index)."""
    detector = create_face_detector("centerface")
    truths: list[Truth] = []
    for path in sorted((SHARED / "images").glob("*/*")):
        image = np.asarray(PILImage.open(path).convert("RGB"))
        faces = [f for f in detector.detect(image) if f.box.height >= min_face]
        for i, face in enumerate(sorted(faces, key=lambda f: -f.box.area)[:3]):
            crop, px = _cap(_head_crop(image, face.box), face.box.height)
            truths.append(Truth(f"{path.stem}#{i}", crop, px))
    for video in ("stage_performer", "sitting_window"):
        with (SHARED / "labels" / f"{video}.csv").open(newline="") as handle:
            rows = [
                r for r in csv.DictReader(handle) if r["sharpness"] == "sharp" and r["face_box"]
            ]
        rows = [r for r in rows if int(r["face_box"].split(",")[3]) >= min_face]
        step = max(1, len(rows) // per_video)
        chosen = {int(r["frame_index"]): r for r in rows[::step][:per_video]}
        with VideoReader(SHARED / "videos" / f"{video}.mp4") as reader:
            for frame in reader.read(set(chosen)):
                x, y, bw, bh = (float(v) for v in chosen[frame.index]["face_box"].split(","))
                label = Box(x, y, x + bw, y + bh)
                faces = detector.detect(frame.image)
                best = max(faces, key=lambda f: f.box.iou(label), default=None)
                if best is None or best.box.iou(label) < 0.2:
                    continue
                crop, px = _cap(_head_crop(frame.image, best.box), best.box.height)
                truths.append(Truth(f"{video}@{frame.index}", crop, px))
    soft = [
        {"name": t.name, "blur": round(blur_index(t.image), 3)}
        for t in truths
        if blur_index(t.image) > TRUTH_MAX_BLUR
    ]
    names = {s["name"] for s in soft}
    return [t for t in truths if t.name not in names], soft


class ModelRunner:
    """Runs a catalogue SR model on an input, cached on disk by the input's bytes."""

    def __init__(self, session: ModelSession, cache: Path) -> None:
        self.session = session
        self.cache = cache
        self.seconds: dict[str, float] = defaultdict(float)
        cache.mkdir(parents=True, exist_ok=True)

    def run(self, model: str, image: Image) -> Image:
        key = hashlib.sha256(model.encode() + image.tobytes() + str(image.shape).encode())
        path = self.cache / f"{key.hexdigest()[:24]}.png"
        if path.is_file():
            return np.asarray(PILImage.open(path).convert("RGB"))
        start = time.perf_counter()
        out = load_engine(self.session, model, "cpu").run(image)
        self.seconds[model] += time.perf_counter() - start
        temp = path.with_suffix(".tmp.png")
        PILImage.fromarray(out).save(temp)
        temp.replace(path)  # an interrupted run leaves no truncated entry
        return out


def bucket_of(face_px: float, factor: float) -> tuple[str, str]:
    size = f"<{SIZE_EDGES[0]}"
    for lo, hi in zip(SIZE_EDGES, (*SIZE_EDGES[1:], None), strict=True):
        if face_px >= lo:
            size = f"{lo}-{hi}" if hi else f">={lo}"
    fac = "1"
    for lo, hi in zip(FACTOR_EDGES, (*FACTOR_EDGES[1:], None), strict=True):
        if factor > lo:
            fac = f"{lo:g}-{hi:g}" if hi else f">{lo:g}"
    return size, fac


def score(out: Image, truth: Image) -> dict[str, float]:
    return {
        "psnr": round(psnr(out, truth), 3),
        "ssim": round(ssim(out, truth), 4),
        "sharp": round(sharpness(out) / max(sharpness(truth), 1e-6), 3),
    }


def evaluate(
    truth: Truth, factor: float, kind: str, runner: ModelRunner, policy: Policy, quick: bool
) -> dict[str, Any]:
    seed = int(hashlib.sha256(f"{truth.name}{factor}{kind}".encode()).hexdigest()[:8], 16)
    low = degrade(truth.image, factor, kind, seed)
    th, tw = truth.image.shape[:2]
    target = (tw, th)
    base = lanczos(low, target)
    face_px = truth.face_px * low.shape[1] / tw
    real_factor = tw / low.shape[1]
    methods: dict[str, dict[str, float]] = {"lanczos": score(base, truth.image)}
    x4 = lanczos(runner.run("realesrgan-x4plus", low), target)
    for s in STRENGTHS:
        methods[f"x4plus@{s:g}"] = score(blend(x4, base, s), truth.image)
    if max(low.shape[:2]) > 128:
        small = lanczos(low, fit_longest(low.shape[1], low.shape[0], 128))
        bounded = lanczos(runner.run("realesrgan-x4plus", small), target)
        methods["x4plus-bounded@0.8"] = score(blend(bounded, base, 0.8), truth.image)
    else:
        methods["x4plus-bounded@0.8"] = methods["x4plus@0.8"]
    if not quick:
        anime = lanczos(runner.run("realesr-animevideov3", low), target)
        for s in (0.5, 1.0):
            methods[f"animev3@{s:g}"] = score(blend(anime, base, s), truth.image)
    features = face_features(low, face_px, tw)
    decision = policy.decide(features)
    if decision.action == "restore":
        methods["policy"] = score(blend(x4, base, decision.strength), truth.image)
    else:
        methods["policy"] = methods["lanczos"]
    methods["always@0.8"] = methods["x4plus@0.8"]
    size, fac = bucket_of(face_px, real_factor)
    return {
        "truth": truth.name,
        "factor": factor,
        "degradation": kind,
        "input": [int(low.shape[1]), int(low.shape[0])],
        "face_px": round(face_px, 1),
        "blur": round(features.blur, 4),
        "size_bucket": size,
        "factor_bucket": fac,
        "policy": {
            "run": decision.action == "restore",
            "strength": decision.strength,
            "why": decision.reason,
        },
        "methods": methods,
    }


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["size_bucket"], r["factor_bucket"])].append(r)
    rows = []
    for (size, fac), items in sorted(groups.items()):
        names = sorted(items[0]["methods"])
        means = {
            m: {
                k: round(statistics.fmean(i["methods"][m][k] for i in items), 4)
                for k in ("psnr", "ssim", "sharp")
            }
            for m in names
        }
        lan, pol = means["lanczos"], means["policy"]
        ran = [i for i in items if i["policy"]["run"]]
        sharp_ran = None
        if ran:
            sp = statistics.fmean(i["methods"]["policy"]["sharp"] for i in ran)
            sl = statistics.fmean(i["methods"]["lanczos"]["sharp"] for i in ran)
            sharp_ran = {
                "policy": round(sp, 3),
                "lanczos": round(sl, 3),
                "closer_to_1": abs(sp - 1) < abs(sl - 1),
            }
        rows.append(
            {
                "face_px": size,
                "factor": fac,
                "n": len(items),
                "model_ran": sum(i["policy"]["run"] for i in items),
                "policy_minus_lanczos": {
                    "psnr": round(pol["psnr"] - lan["psnr"], 3),
                    "ssim": round(pol["ssim"] - lan["ssim"], 4),
                },
                "meets_target": pol["psnr"] >= lan["psnr"] - 0.3
                and pol["ssim"] >= lan["ssim"] - 0.005
                and (sharp_ran is None or sharp_ran["closer_to_1"]),
                "sharpness_where_model_ran": sharp_ran,
                "means": means,
            }
        )
    return rows


def restore_at_native_size() -> list[dict[str, Any]]:
    """`restore` on each shared photo at its own size: per face, what the default policy
    decided and how much of the face's sharpness the output keeps (1.0 = all)."""
    from personframes.restore.api import FaceRestoration
    from personframes.restore.settings import RestorationSettings

    restoration = FaceRestoration()
    rows = []
    for path in sorted((SHARED / "images" / "whole").glob("*")):
        image = np.asarray(PILImage.open(path).convert("RGB"))
        result = restoration.restore(image, RestorationSettings(device="cpu"))
        for face in result.faces:
            x1, y1, x2, y2 = (round(v) for v in face.box)
            x1, y1 = max(0, x1), max(0, y1)
            before, after = image[y1:y2, x1:x2], result.image[y1:y2, x1:x2]
            rows.append(
                {
                    "image": path.name,
                    "face_px": round(y2 - y1),
                    "decision": face.result.record()["decision"],
                    "reason": face.reason,
                    "sharpness_kept": round(sharpness(after) / max(sharpness(before), 1e-6), 3),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer truths, no animev3")
    parser.add_argument("--records", type=Path, help="also write every scored input here")
    parser.add_argument(
        "--cache", type=Path, default=Path("/tmp/personframes-fidelity-cache"), help="model cache"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    truths, soft = collect_truths(min_face=48, per_video=2 if args.quick else 4)
    if args.quick:
        truths = truths[::3]
    runner = ModelRunner(ModelSession(), args.cache)
    records = []
    for factor in sorted(FACTORS, reverse=True):  # cheap (small inputs) first
        for truth in truths:
            for kind in DEGRADATIONS:
                if factor == 1.0 and kind == "clean":
                    continue  # identical to the truth
                records.append(evaluate(truth, factor, kind, runner, DEFAULT_POLICY, args.quick))
        if args.records:
            args.records.write_text(json.dumps(records, indent=1))
    buckets = summarise(records)
    print(
        json.dumps(
            {
                "truths": [
                    {"name": t.name, "size": t.image.shape[1::-1], "face_px": round(t.face_px)}
                    for t in truths
                ],
                "left_out_soft": soft,
                "inputs": len(records),
                "policy": DEFAULT_POLICY.describe(),
                "all_buckets_meet_target": all(b["meets_target"] for b in buckets),
                "buckets": buckets,
                "restore_at_native_size": restore_at_native_size(),
                "model_seconds": {k: round(v, 1) for k, v in runner.seconds.items()},
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
