"""Image quality of a frame or a face region: sharpness, exposure, noise.

:func:`measure_quality` returns absolute measurements. Sharpness (variance of
the Laplacian) depends on the content and the source, so a soft video would
lose every frame to an absolute cut-off; :func:`score_quality` therefore
judges sharpness mostly *relative to the video* (its percentile rank among the
video's candidates, from :func:`percentile_ranks`) and only partly on an
absolute scale, with an absolute floor under which a region counts as blurred
whatever its rank.

Regions are measured on grey levels after scaling so the longest side is at
most ``ANALYSIS_SIDE`` px, which keeps numbers comparable across face sizes
and resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Box, Image

ANALYSIS_SIDE = 256
SHARPNESS_FLOOR = 10.0  # Laplacian variance below this: blurred whatever the video
SHARPNESS_GOOD = 300.0  # Laplacian variance counted as fully sharp on the absolute scale
RELATIVE_WEIGHT = 0.7  # share of the sharpness score taken from the video-relative rank
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


@dataclass(frozen=True)
class QualityMetrics:
    """Absolute measurements of one image region (grey levels 0..255)."""

    sharpness: float  # variance of the Laplacian
    brightness: float  # mean grey level
    contrast: float  # standard deviation of grey levels
    noise: float  # estimated noise sigma (Immerkaer 1996)


@dataclass(frozen=True)
class QualityScore:
    """Scores in 0..1 and their combination."""

    sharpness: float
    exposure: float
    contrast: float
    noise: float
    overall: float


def measure_quality(image: Image, region: Box | None = None) -> QualityMetrics:
    """Measure ``image`` (RGB) or the part of it inside ``region``."""
    height, width = image.shape[:2]
    if region is not None:
        r = region.clip(width, height)
        x1, y1, x2, y2 = int(r.x1), int(r.y1), math.ceil(r.x2), math.ceil(r.y2)
        image = image[y1:y2, x1:x2]
    if image.shape[0] < 3 or image.shape[1] < 3:
        return QualityMetrics(0.0, 0.0, 0.0, 0.0)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    side = max(grey.shape)
    if side > ANALYSIS_SIDE:
        scale = ANALYSIS_SIDE / side
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    g = grey.astype(np.float32)
    sharpness = float(cv2.Laplacian(g, cv2.CV_32F).var())
    brightness = float(g.mean())
    contrast = float(g.std())
    h, w = g.shape
    if h > 2 and w > 2:
        conv = cv2.filter2D(g, -1, _NOISE_KERNEL)[1:-1, 1:-1]
        noise = float(math.sqrt(math.pi / 2) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))
    else:
        noise = 0.0
    return QualityMetrics(sharpness, brightness, contrast, noise)


def percentile_ranks(values: Sequence[float]) -> list[float]:
    """Each value's percentile rank in 0..1 among ``values`` (ties share the mean rank).

    Use it on the sharpness of all the candidates of one video (per face
    region or per frame) so the best of a soft video still ranks near 1.
    """
    n = len(values)
    if n == 0:
        return []
    if n == 1:
        return [1.0]
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 / (n - 1)
        for k in range(i, j + 1):
            ranks[order[k]] = mean_rank
        i = j + 1
    return ranks


def absolute_sharpness(sharpness: float) -> float:
    """Laplacian variance on a log scale: 0 at the floor, 1 at SHARPNESS_GOOD."""
    if sharpness <= SHARPNESS_FLOOR:
        return 0.0
    return min(
        1.0, math.log(sharpness / SHARPNESS_FLOOR) / math.log(SHARPNESS_GOOD / SHARPNESS_FLOOR)
    )


def score_quality(metrics: QualityMetrics, sharpness_rank: float | None = None) -> QualityScore:
    """Combine measurements into 0..1 scores.

    ``sharpness_rank`` is the region's percentile rank among the video's
    candidates (:func:`percentile_ranks`); without it sharpness is judged
    on the absolute scale alone. Below ``SHARPNESS_FLOOR`` the sharpness
    score is 0 whatever the rank.
    """
    absolute = absolute_sharpness(metrics.sharpness)
    if metrics.sharpness <= SHARPNESS_FLOOR:
        sharp = 0.0
    elif sharpness_rank is None:
        sharp = absolute
    else:
        sharp = RELATIVE_WEIGHT * sharpness_rank + (1 - RELATIVE_WEIGHT) * absolute
    # Exposure: 1 for mid-grey means, falling to 0 at black or white.
    exposure = max(0.0, 1.0 - abs(metrics.brightness - 128.0) / 128.0) ** 0.5
    contrast = min(1.0, metrics.contrast / 50.0)
    noise = max(0.0, 1.0 - metrics.noise / 20.0)
    overall = 0.55 * sharp + 0.2 * exposure + 0.15 * contrast + 0.1 * noise
    return QualityScore(sharp, exposure, contrast, noise, round(overall, 4))
