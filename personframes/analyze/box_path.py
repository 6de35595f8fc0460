"""A crop that follows a person through a clip: their box in every frame, smoothed over
time, cut at one size for the whole clip (a video model's frames all have one size).

Pure functions over boxes; the jitter measure is what ``bench/clips.py`` reports.
"""

from __future__ import annotations

import math

import numpy as np

from ..output.crops import padded_size
from ..types import Box


def smooth(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Each column of ``values`` (frames x n) smoothed by a Gaussian of ``sigma_frames``
    (zero phase: the whole clip is known; its ends reflected, so no lag and no pull
    toward zero at the edges)."""
    if sigma_frames <= 0 or len(values) < 3:
        return values.astype(np.float64)
    radius = max(1, math.ceil(3 * sigma_frames))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values.astype(np.float64), ((radius, radius), (0, 0)), mode="reflect")
    if len(values) <= radius:  # too short to reflect that far: repeat the ends
        padded = np.pad(values.astype(np.float64), ((radius, radius), (0, 0)), mode="edge")
    out = np.empty(values.shape, np.float64)
    for column in range(values.shape[1]):
        out[:, column] = np.convolve(padded[:, column], kernel, mode="valid")
    return out


def jitter(values: np.ndarray) -> float:
    """Pixels per frame of shake: the mean distance of each frame's value from the
    midpoint of its neighbours (a steady move, even a fast one, scores 0), averaged over
    the columns."""
    if len(values) < 3:
        return 0.0
    middle = values[1:-1] - (values[:-2] + values[2:]) / 2
    return float(np.mean(np.abs(middle)))


def as_rows(boxes: list[Box]) -> np.ndarray:
    """Boxes as rows (centre x, centre y, width, height)."""
    return np.array([(*b.center, b.width, b.height) for b in boxes], np.float64)


def edges(rows: np.ndarray) -> np.ndarray:
    """Rows (cx, cy, w, h) as rows (x1, y1, x2, y2)."""
    half = rows[:, 2:] / 2
    return np.concatenate([rows[:, :2] - half, rows[:, :2] + half], axis=1)


def crop_size(
    rows: np.ndarray,
    padding: float,
    ratio: float | None,
    frame: tuple[int, int],
) -> tuple[float, float]:
    """One crop size for the clip: the largest padded box of any frame (so the person
    always fits), widened to ``ratio`` (width / height; a taller-than-wide crop gets the
    inverse) and cut to the frame."""
    width, height = padded_size(
        float(rows[:, 2].max()), float(rows[:, 3].max()), padding, ratio, frame
    )
    return min(width, frame[0]), min(height, frame[1])


def output_size(
    crop: tuple[float, float], longest: int, multiple: int
) -> tuple[tuple[int, int], tuple[float, float]]:
    """The clip's frame size (sides multiples of ``multiple``, longest at most
    ``longest``, never enlarged) and the crop size that has exactly its shape (the crop
    trimmed by less than one ``multiple`` of output pixels: never stretched)."""
    scale = min(1.0, longest / max(crop))
    width = max(multiple, int(crop[0] * scale) // multiple * multiple)
    height = max(multiple, int(crop[1] * scale) // multiple * multiple)
    return (width, height), (width / scale, height / scale)


def placed(centres: np.ndarray, size: tuple[float, float], frame: tuple[int, int]) -> list[Box]:
    """Boxes of ``size`` centred on ``centres`` (frames x 2), shifted inside the frame."""
    width, height = size
    out = []
    for cx, cy in centres:
        x1 = min(max(cx - width / 2, 0.0), frame[0] - width)
        y1 = min(max(cy - height / 2, 0.0), frame[1] - height)
        out.append(Box(max(0.0, x1), max(0.0, y1), max(0.0, x1) + width, max(0.0, y1) + height))
    return out
