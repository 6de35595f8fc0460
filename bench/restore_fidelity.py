"""Face-restoration fidelity against real high-resolution truth: prints one JSON object.

    python bench/restore_fidelity.py [--quick] [--records FILE] [--cache DIR]
        [--configs NAME,...] [--restored-only] [--truth-step N]

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
are cached in --cache (keyed by the model, engine, precision and the input's bytes),
so reruns cost seconds. Every model run is pinned to its engine and precision (the
existing methods: x4plus / animev3 on ncnn fp32, the catalogue's engine), never the
per-process engine race.

Cost per gain (``compare``): on every input the default policy restores, each way of
restoring it (``CONFIGS``: model, engine, precision, largest model input; plus
Lanczos, 0 s) is scored at the policy's strengths (0.25, 0.5) beside the seconds of
its model run on that face (warm: the first run of a configuration on an input size
is a warm-up; the best of the next two). Configurations run back to back on each
face, so their timings share the machine's load: compare them as ratios. Per rule
of the policy (light touch, blurred) and per bucket: mean dB / SSIM gain over
Lanczos, seconds, and the cheapest configuration keeping 90 % of x4plus fp32's
gain; for bf16 vs fp32 (and onnxruntime vs ncnn) of the same model, the PSNR between
their raw outputs and between their blends at each strength. bf16 configurations are
skipped (and listed) on CPUs without native bf16, as are engines not installed.

Cost: x4plus takes seconds per face on two cores, so all configurations on every
input is hours. ``--restored-only`` scores only the inputs the policy restores (all
the ``compare`` needs), ``--truth-step N`` every Nth truth, ``--configs`` a subset:
``--restored-only --truth-step 3`` with every configuration but onnxruntime and
bf16-in128 (61 inputs) took 15 minutes on a busy 2-core machine.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personframes.cpu import native_bf16
from personframes.detect import create_face_detector
from personframes.models.session import ModelSession
from personframes.output.crops import crop_box, cut
from personframes.resize import fit_longest, lanczos
from personframes.restore.engine_choice import Candidate
from personframes.restore.engines.base import Precision, available_engines
from personframes.restore.loading import engine_for
from personframes.restore.metrics import blur_index, psnr, sharpness, ssim
from personframes.restore.policy import (
    DEFAULT_POLICY,
    RULES,
    FaceFeatures,
    Policy,
    Rule,
    face_features,
)
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


@dataclass(frozen=True)
class Config:
    """One way of restoring a face: a catalogue model on one engine and precision, its
    input shrunk (Lanczos) to ``max_input`` px first where it is larger (as the
    restorer does for a rule's input cap)."""

    name: str
    model: str
    engine: str
    precision: Precision
    max_input: int | None = None

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.engine, self.precision)

    @property
    def runs_as(self) -> str:
        """What computes its outputs (configurations differing only in ``max_input``
        share their outputs and timings on the same model input)."""
        return f"{self.model} {self.engine} {self.precision}"

    def model_input(self, image: Image) -> Image:
        h, w = image.shape[:2]
        if self.max_input is None or max(h, w) <= self.max_input:
            return image
        return lanczos(image, fit_longest(w, h, self.max_input))

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "engine": self.engine,
            "precision": self.precision,
            "max_input": self.max_input,
        }


X4 = "realesrgan-x4plus"
ANIME = "realesr-animevideov3"
X4_FP32 = Config("x4plus-ncnn-fp32", X4, "ncnn", "fp32")  # today's default path
ANIME_FP32 = Config("animev3-ncnn-fp32", ANIME, "ncnn", "fp32")
# The ways of restoring a face compared on the inputs the policy restores.
CONFIGS: tuple[Config, ...] = (
    X4_FP32,
    Config("x4plus-ncnn-bf16", X4, "ncnn", "bf16"),
    Config("x4plus-ort-fp32", X4, "onnxruntime", "fp32"),
    ANIME_FP32,
    Config("animev3-ncnn-bf16", ANIME, "ncnn", "bf16"),
    Config("x4plus-ncnn-fp32-in192", X4, "ncnn", "fp32", 192),
    Config("x4plus-ncnn-fp32-in128", X4, "ncnn", "fp32", 128),
    Config("x4plus-ncnn-bf16-in128", X4, "ncnn", "bf16", 128),
    # 6 RRDB blocks instead of 23 (about 4x less work), trained on anime illustrations.
    Config("x4anime6b-ncnn-fp32", "realesrgan-x4plus-anime", "ncnn", "fp32"),
)
COMPARE_STRENGTHS = (0.25, 0.5)
BLEND_STRENGTHS = (0.25, 0.5, 1.0)  # bf16-vs-fp32 distances of the blends
# Pairs (other, reference) of the same model whose outputs are compared directly.
DISTANCE_PAIRS = (
    ("x4plus-ncnn-bf16", "x4plus-ncnn-fp32"),
    ("x4plus-ort-fp32", "x4plus-ncnn-fp32"),
    ("animev3-ncnn-bf16", "animev3-ncnn-fp32"),
    ("x4plus-ncnn-bf16-in128", "x4plus-ncnn-fp32-in128"),
)
SAME_OUTPUT_DB = 50.0  # engine_choice.MIN_PSNR_DB: the proposed bf16 rule's threshold
KEEP_SHARE = 0.9  # "most of the gain": this share of x4plus fp32's gain at the strength
TIMED_RUNS = 2  # warm runs per configuration and input size (the best is reported)


def usable_configs(names: list[str] | None) -> tuple[list[Config], list[dict[str, str]]]:
    """The configurations asked for (default all) that can run here, and the skipped
    ones with the reason (bf16 without native bf16, an engine not installed)."""
    known = {c.name: c for c in CONFIGS}
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise SystemExit(f"unknown configuration {', '.join(unknown)}: known {', '.join(known)}")
    chosen = [known[n] for n in names] if names else list(CONFIGS)
    engines = available_engines()
    usable, skipped = [], []
    for c in chosen:
        if c.precision == "bf16" and not native_bf16():
            skipped.append({"config": c.name, "why": "this CPU has no native bf16"})
        elif engines.get(c.engine) is None:
            skipped.append({"config": c.name, "why": f"the {c.engine} engine is not installed"})
        else:
            usable.append(c)
    if X4_FP32 not in usable:
        usable.insert(0, X4_FP32)  # the reference of every comparison
    return usable, skipped


class ModelRunner:
    """Runs a configuration's model on an input, cached on disk by its model input's
    bytes, and times every run it makes (per configuration and input size)."""

    def __init__(self, session: ModelSession, cache: Path) -> None:
        self.session = session
        self.cache = cache
        self.seconds: dict[str, float] = defaultdict(float)  # all model runs, per config
        # (runs_as, model input shape) -> seconds of each run; the first is the warm-up.
        self.runs: dict[tuple[str, tuple[int, ...]], list[float]] = defaultdict(list)
        cache.mkdir(parents=True, exist_ok=True)

    def _run(self, config: Config, model_in: Image) -> Image:
        engine = engine_for(self.session, config.model, "cpu", config.candidate)
        start = time.perf_counter()
        out = engine.run(model_in)
        took = time.perf_counter() - start
        self.seconds[config.runs_as] += took
        self.runs[(config.runs_as, model_in.shape)].append(took)
        return out

    def run(self, config: Config, image: Image) -> Image:
        """The model's output for ``image`` (at the model's scale of its model input)."""
        model_in = config.model_input(image)
        key = hashlib.sha256(
            config.runs_as.encode() + model_in.tobytes() + str(model_in.shape).encode()
        )
        path = self.cache / f"{key.hexdigest()[:24]}.png"
        if path.is_file():
            return np.asarray(PILImage.open(path).convert("RGB"))
        out = self._run(config, model_in)
        temp = path.with_suffix(".tmp.png")
        PILImage.fromarray(out).save(temp)
        temp.replace(path)  # an interrupted run leaves no truncated entry
        return out

    def warm_seconds(self, config: Config, image: Image) -> float:
        """Seconds of the model run on ``image``'s size: the best of ``TIMED_RUNS`` runs
        after a warm-up on that size (runs made for the outputs count; more are made
        where they are too few)."""
        model_in = config.model_input(image)
        runs = self.runs[(config.runs_as, model_in.shape)]
        while len(runs) < 1 + TIMED_RUNS:
            self._run(config, model_in)
        return min(runs[1:])


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


@dataclass(frozen=True)
class Scored:
    """One scored input, and the input itself (for timing its configurations)."""

    record: dict[str, Any]
    low: Image


def rule_of(features: FaceFeatures) -> Rule | None:
    return next((r for r in RULES if r.matches(features)), None)


def compare(
    low: Image, base: Image, truth: Image, runner: ModelRunner, configs: list[Config]
) -> dict[str, Any]:
    """Each configuration's gain over Lanczos on one face at ``COMPARE_STRENGTHS`` (the
    models run back to back), and the distances between the outputs of ``DISTANCE_PAIRS``
    (raw: the models' outputs; ``@s``: their blends with Lanczos at strength s)."""
    target = (base.shape[1], base.shape[0])
    lan_psnr, lan_ssim = psnr(base, truth), ssim(base, truth)
    raw = {c.name: runner.run(c, low) for c in configs}
    resized = {name: lanczos(out, target) for name, out in raw.items()}
    gains: dict[str, dict[str, Any]] = {}
    for c in configs:
        entry: dict[str, Any] = {"model_input": int(max(c.model_input(low).shape[:2]))}
        for s in COMPARE_STRENGTHS:
            mixed = blend(resized[c.name], base, s)
            entry[f"db@{s:g}"] = round(psnr(mixed, truth) - lan_psnr, 3)
            entry[f"ssim@{s:g}"] = round(ssim(mixed, truth) - lan_ssim, 4)
        gains[c.name] = entry
    distances: dict[str, dict[str, float]] = {}
    for other, ref in DISTANCE_PAIRS:
        if other in raw and ref in raw:
            d = {"raw": round(psnr(raw[other], raw[ref]), 2)}
            for s in BLEND_STRENGTHS:
                a = blend(resized[other], base, s)
                d[f"@{s:g}"] = round(psnr(a, blend(resized[ref], base, s)), 2)
            distances[f"{other} vs {ref}"] = d
    return {"configs": gains, "distances": distances}


def evaluate(
    truth: Truth,
    factor: float,
    kind: str,
    runner: ModelRunner,
    policy: Policy,
    quick: bool,
    configs: list[Config],
    restored_only: bool = False,
) -> Scored | None:
    """Every method scored on ``truth`` degraded by (factor, kind); where the policy
    restores the input, the configurations compared too (``compare``, without seconds:
    ``time_group`` adds them). None when ``restored_only`` and the policy does not
    restore it."""
    seed = int(hashlib.sha256(f"{truth.name}{factor}{kind}".encode()).hexdigest()[:8], 16)
    low = degrade(truth.image, factor, kind, seed)
    th, tw = truth.image.shape[:2]
    target = (tw, th)
    face_px = truth.face_px * low.shape[1] / tw
    real_factor = tw / low.shape[1]
    # The restorer's target is the longest side (the truth's width undercounted the
    # enlargement of every portrait crop: x1.5 looked like x1.06 to the policy).
    features = face_features(low, face_px, max(th, tw))
    decision = policy.decide(features)
    if restored_only and decision.action != "restore":
        return None
    base = lanczos(low, target)
    methods: dict[str, dict[str, float]] = {"lanczos": score(base, truth.image)}
    x4 = lanczos(runner.run(X4_FP32, low), target)
    for s in STRENGTHS:
        methods[f"x4plus@{s:g}"] = score(blend(x4, base, s), truth.image)
    if max(low.shape[:2]) > 128:
        bounded = lanczos(runner.run(replace(X4_FP32, max_input=128), low), target)
        methods["x4plus-bounded@0.8"] = score(blend(bounded, base, 0.8), truth.image)
    else:
        methods["x4plus-bounded@0.8"] = methods["x4plus@0.8"]
    if not quick:
        anime = lanczos(runner.run(ANIME_FP32, low), target)
        for s in (0.5, 1.0):
            methods[f"animev3@{s:g}"] = score(blend(anime, base, s), truth.image)
    if decision.action == "restore":
        methods["policy"] = score(blend(x4, base, decision.strength), truth.image)
    else:
        methods["policy"] = methods["lanczos"]
    methods["always@0.8"] = methods["x4plus@0.8"]
    size, fac = bucket_of(face_px, real_factor)
    record: dict[str, Any] = {
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
    rule = rule_of(features)
    if decision.action == "restore" and decision.policy == "auto" and rule is not None:
        record["compare"] = {"rule": rule.why, "strength": decision.strength} | compare(
            low, base, truth.image, runner, configs
        )
    return Scored(record, low)


def time_group(group: list[Scored], runner: ModelRunner, configs: list[Config]) -> None:
    """Add each configuration's warm seconds to the compared records of one truth and
    factor (one input size; the degradations' model runs are its timed runs)."""
    compared = [g for g in group if "compare" in g.record]
    if not compared:
        return
    for c in configs:
        seconds = round(runner.warm_seconds(c, compared[0].low), 4)
        for g in compared:
            g.record["compare"]["configs"][c.name]["seconds"] = seconds


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


def _config_stats(items: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Means over compared records: dB and SSIM gain per strength, seconds per face,
    and seconds as a ratio of x4plus fp32's on the same faces."""
    ref_seconds = sum(i["compare"]["configs"][X4_FP32.name]["seconds"] for i in items)
    stats: dict[str, Any] = {
        "lanczos": {f"db@{s:g}": 0.0 for s in COMPARE_STRENGTHS} | {"seconds": 0.0}
    }
    for name in names:
        entries = [i["compare"]["configs"][name] for i in items]
        row: dict[str, Any] = {}
        for s in COMPARE_STRENGTHS:
            row[f"db@{s:g}"] = round(statistics.fmean(e[f"db@{s:g}"] for e in entries), 3)
            row[f"ssim@{s:g}"] = round(statistics.fmean(e[f"ssim@{s:g}"] for e in entries), 4)
        total = sum(e["seconds"] for e in entries)
        row["seconds"] = round(total / len(entries), 3)
        row["seconds_vs_x4plus_fp32"] = round(total / ref_seconds, 3) if ref_seconds else None
        stats[name] = row
    return stats


def cheapest(stats: dict[str, Any], strength: float) -> dict[str, Any]:
    """The cheapest (configuration, strength) whose mean gain is at least ``KEEP_SHARE``
    of x4plus fp32's at ``strength`` and not below 0 dB (Lanczos when that gain is not
    above 0)."""
    reference = stats[X4_FP32.name][f"db@{strength:g}"]
    floor = max(0.0, KEEP_SHARE * reference)
    options = [
        (row["seconds"], -row[f"db@{s:g}"], name, s)
        for name, row in stats.items()
        for s in COMPARE_STRENGTHS
        if row[f"db@{s:g}"] >= floor
    ]
    seconds, minus_db, name, s = min(options)
    return {
        "config": name,
        "strength": s if name != "lanczos" else 0.0,
        "db": -minus_db,
        "seconds": seconds,
        "x4plus_fp32_db": reference,
        "x4plus_fp32_seconds": stats[X4_FP32.name]["seconds"],
    }


def _distance_stats(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Per compared pair and strength: min / median PSNR between the two outputs (99:
    identical) and the share of faces at or above ``SAME_OUTPUT_DB``."""
    pairs = sorted({k for i in items for k in i["compare"]["distances"]})
    result: dict[str, Any] = {}
    for pair in pairs:
        found = (i["compare"]["distances"] for i in items)
        values = [d[pair] for d in found if pair in d]
        result[pair] = {
            key: {
                "min": round(min(v[key] for v in values), 2),
                "median": round(statistics.median(v[key] for v in values), 2),
                f"share_ge_{SAME_OUTPUT_DB:g}db": round(
                    sum(v[key] >= SAME_OUTPUT_DB for v in values) / len(values), 3
                ),
            }
            for key in values[0]
        } | {"n": len(values)}
    return result


def summarise_compare(records: list[dict[str, Any]], configs: list[Config]) -> dict[str, Any]:
    """Per policy rule (all its inputs, then per size / factor bucket): the
    configurations' gains and seconds, the cheapest that keeps most of the gain, and
    the output distances of the compared pairs."""
    names = [c.name for c in configs]
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if "compare" in r:
            by_rule[r["compare"]["rule"]].append(r)
    rules = []
    for why, items in sorted(by_rule.items()):
        strength = items[0]["compare"]["strength"]
        stats = _config_stats(items, names)
        buckets: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for i in items:
            buckets[(i["size_bucket"], i["factor_bucket"])].append(i)
        rows = []
        for (size, fac), group in sorted(buckets.items()):
            bucket_stats = _config_stats(group, names)
            rows.append(
                {
                    "face_px": size,
                    "factor": fac,
                    "n": len(group),
                    "cheapest": cheapest(bucket_stats, strength),
                    "configs": bucket_stats,
                }
            )
        rules.append(
            {
                "rule": why,
                "strength": strength,
                "n": len(items),
                "cheapest": cheapest(stats, strength),
                "configs": stats,
                "distances": _distance_stats(items),
                "buckets": rows,
            }
        )
    compared = [r for r in records if "compare" in r]
    return {
        "n": len(compared),
        "keep_share": KEEP_SHARE,
        "rules": rules,
        "distances": _distance_stats(compared) if compared else {},
    }


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
    parser.add_argument(
        "--configs",
        help="comma-separated configurations to compare (default: all): "
        + ", ".join(c.name for c in CONFIGS),
    )
    parser.add_argument(
        "--restored-only",
        action="store_true",
        help="score only the inputs the default policy restores (the buckets then cover "
        "those inputs only)",
    )
    parser.add_argument(
        "--truth-step", type=int, help="every Nth truth (default 3 with --quick, else 1)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    configs, skipped = usable_configs(args.configs.split(",") if args.configs else None)
    truths, soft = collect_truths(min_face=48, per_video=2 if args.quick else 4)
    step = args.truth_step or (3 if args.quick else 1)
    truths = truths[::step]
    runner = ModelRunner(ModelSession(), args.cache)
    records: list[dict[str, Any]] = []
    for factor in sorted(FACTORS, reverse=True):  # cheap (small inputs) first
        for truth in truths:
            group = []
            for kind in DEGRADATIONS:
                if factor == 1.0 and kind == "clean":
                    continue  # identical to the truth
                scored = evaluate(
                    truth,
                    factor,
                    kind,
                    runner,
                    DEFAULT_POLICY,
                    args.quick,
                    configs,
                    args.restored_only,
                )
                if scored is not None:
                    group.append(scored)
            time_group(group, runner, configs)
            records.extend(g.record for g in group)
        print(
            f"factor {factor:g}: {len(records)} inputs, {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
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
                "restored_only": args.restored_only,
                "truth_step": step,
                "policy": DEFAULT_POLICY.describe(),
                "all_buckets_meet_target": all(b["meets_target"] for b in buckets),
                "buckets": buckets,
                "configs": {c.name: c.describe() for c in configs},
                "configs_skipped": skipped,
                "compare": summarise_compare(records, configs),
                "restore_at_native_size": restore_at_native_size(),
                "model_seconds": {k: round(v, 1) for k, v in runner.seconds.items()},
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
