from __future__ import annotations

import cv2
import numpy as np

from personframes.analyze.quality import (
    SHARPNESS_FLOOR,
    measure_quality,
    percentile_ranks,
    score_quality,
)
from personframes.types import Box

from .util import IMAGES


def load(name: str) -> np.ndarray:
    bgr = cv2.imread(str(IMAGES / "whole" / name))
    assert bgr is not None
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def test_sharp_frame_ranks_above_its_blurred_copy() -> None:
    image = load("two_people.jpg")
    blurred = np.asarray(cv2.GaussianBlur(image, (0, 0), 3.0), dtype=np.uint8)
    metrics = [measure_quality(image), measure_quality(blurred)]
    assert metrics[0].sharpness > metrics[1].sharpness
    ranks = percentile_ranks([m.sharpness for m in metrics])
    scores = [score_quality(m, r).overall for m, r in zip(metrics, ranks, strict=True)]
    assert scores[0] > scores[1]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_soft_video_still_yields_its_best_frames() -> None:
    # A whole "video" of soft frames: relative rank lifts the least soft one.
    image = load("portrait_soft.jpg")
    frames = [
        np.asarray(cv2.GaussianBlur(image, (0, 0), s), dtype=np.uint8) for s in (1.0, 1.5, 2.0, 2.5)
    ]
    metrics = [measure_quality(f) for f in frames]
    ranks = percentile_ranks([m.sharpness for m in metrics])
    relative = [score_quality(m, r).sharpness for m, r in zip(metrics, ranks, strict=True)]
    absolute = [score_quality(m).sharpness for m in metrics]
    assert relative[0] == max(relative)
    assert relative[0] > absolute[0] or absolute[0] == 1.0


def test_absolute_floor() -> None:
    flat = np.full((64, 64, 3), 120, dtype=np.uint8)
    metrics = measure_quality(flat)
    assert metrics.sharpness <= SHARPNESS_FLOOR
    assert score_quality(metrics, sharpness_rank=1.0).sharpness == 0.0


def test_region_and_exposure() -> None:
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[:, 100:] = 255
    dark = measure_quality(image, Box(0, 0, 100, 100))
    bright = measure_quality(image, Box(100, 0, 200, 100))
    assert dark.brightness < 1 and bright.brightness > 254
    assert score_quality(dark).exposure == 0.0


def test_noise_estimate_grows_with_noise() -> None:
    rng = np.random.default_rng(0)
    base = np.full((128, 128, 3), 128, dtype=np.uint8)
    noisy = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    assert measure_quality(noisy).noise > measure_quality(base).noise + 5


def test_percentile_ranks_ties() -> None:
    assert percentile_ranks([]) == []
    assert percentile_ranks([5.0]) == [1.0]
    assert percentile_ranks([1.0, 3.0, 2.0]) == [0.0, 1.0, 0.5]
    assert percentile_ranks([2.0, 2.0, 1.0]) == [0.75, 0.75, 0.0]
