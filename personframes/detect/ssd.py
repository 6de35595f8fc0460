"""SSD detector post-processing as mediapipe does it (BlazeFace and BlazePose ports).

Owns three calculators of mediapipe 0.10.21, with the options both detectors' graphs
give them:

- ``SsdAnchorsCalculator`` with ``fixed_anchor_size`` (:func:`anchor_centres`);
- ``TensorsToDetectionsCalculator`` (:func:`decode`): box centre / size and keypoints
  decoded against the anchors, scores through a sigmoid of the logit clipped to
  +-``SCORE_CLIPPING``, detections below the minimum score or of negative size dropped;
- ``NonMaxSuppressionCalculator`` with the WEIGHTED algorithm and IoU overlap
  (:func:`weighted_nms`).

Decoded detections are rows of float32: xmin, ymin, xmax, ymax, then x, y per keypoint,
normalised to the model's input tensor.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

SCORE_CLIPPING = 100.0  # logits are clipped to +-this before the sigmoid
NMS_MIN_SUPPRESSION = 0.3  # IoU above which detections are merged
ANCHOR_OFFSET = 0.5  # anchor centres sit mid-cell


def sigmoid(values: FloatArray) -> FloatArray:
    """The logistic function in float32, as mediapipe's C++ computes it.

    Not in float64: BlazePose's landmarks hang on its detection scores to the last bit
    (the scores weight the NMS merge, which places the landmark ROI): float64 scores
    rounded to float32 raised the largest landmark error against mediapipe on the
    reference inputs from 0.7% to 1.5% of the ROI, through the heatmap refinement.
    """
    with np.errstate(over="ignore"):  # exp overflows to inf for very negative inputs: 0
        return np.asarray(1.0 / (1.0 + np.exp(-values)), dtype=np.float32)


def anchor_centres(
    input_size: int,
    strides: tuple[int, ...],
    *,
    aspect_ratios: int = 1,
    interpolated_scale_aspect_ratio: float = 1.0,
    offset: float = ANCHOR_OFFSET,
) -> FloatArray:
    """(N, 2) anchor centres x, y (normalised), in ``SsdAnchorsCalculator``'s order.

    With ``fixed_anchor_size`` every anchor is 1 x 1, so only the centres and the count
    per cell matter: ``aspect_ratios`` anchors per layer, plus one more per layer when
    ``interpolated_scale_aspect_ratio`` > 0. Consecutive layers of one stride share a
    grid (their anchors stand in the same cells).
    """
    centres: list[FloatArray] = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += aspect_ratios + (1 if interpolated_scale_aspect_ratio > 0 else 0)
            last += 1
        size = math.ceil(input_size / strides[layer])
        grid = (np.arange(size, dtype=np.float32) + np.float32(offset)) / np.float32(size)
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def decode(
    raw_boxes: FloatArray,
    raw_scores: FloatArray,
    anchors: FloatArray,
    scale: float,
    min_score: float,
) -> tuple[FloatArray, FloatArray]:
    """``TensorsToDetectionsCalculator``: the detections scoring at least ``min_score``.

    ``raw_boxes`` holds, per anchor, box centre x, y, width, height and then x, y per
    keypoint, in input px (``scale``: the input size); ``raw_scores`` one logit per
    anchor. Returns ``(rows, scores)``: rows (K, 4 + 2 x keypoints) as in this module's
    docstring, and their scores, in anchor order.
    """
    logits = raw_scores.reshape(-1).astype(np.float32)
    scores = sigmoid(np.clip(logits, -SCORE_CLIPPING, SCORE_CLIPPING))
    keep = scores >= np.float32(min_score)
    raw = raw_boxes.reshape(len(anchors), -1)[keep].astype(np.float32) / np.float32(scale)
    anchor = anchors[keep]
    # Anchors are 1 x 1 (fixed_anchor_size): offset / scale + anchor centre.
    cx = raw[:, 0] + anchor[:, 0]
    cy = raw[:, 1] + anchor[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    rows = np.empty_like(raw)
    rows[:, 0] = cx - w / 2
    rows[:, 1] = cy - h / 2
    rows[:, 2] = cx + w / 2
    rows[:, 3] = cy + h / 2
    rows[:, 4::2] = raw[:, 4::2] + anchor[:, :1]
    rows[:, 5::2] = raw[:, 5::2] + anchor[:, 1:]
    # As mediapipe: detections whose box has a negative (or NaN) size are dropped.
    valid = (rows[:, 2] - rows[:, 0] >= 0) & (rows[:, 3] - rows[:, 1] >= 0)
    return rows[valid], scores[keep][valid]


def iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    """mediapipe's ``OverlapSimilarity`` (IoU) of ``box`` (xmin, ymin, xmax, ymax) with
    each row of ``boxes``; 0 where they do not touch or the union is empty."""
    ix = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    iy = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    overlap = (ix >= 0) & (iy >= 0)  # Rectangle::Intersects (touching counts)
    inter = np.where(overlap, np.maximum(ix, 0) * np.maximum(iy, 0), 0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(overlap & (union > 0), inter / union, 0).astype(np.float32)


def weighted_nms(
    rows: FloatArray, scores: FloatArray, threshold: float = NMS_MIN_SUPPRESSION
) -> list[tuple[float, FloatArray]]:
    """``NonMaxSuppressionCalculator`` (WEIGHTED, IoU) on decoded ``rows``.

    The best remaining detection takes every remaining one whose IoU with it is above
    ``threshold`` (itself included); the group's box corners and keypoints become their
    score-weighted mean and it keeps the best score. Returns (score, row) per group,
    best first.
    """
    remaining = np.argsort(-scores, kind="stable")
    out: list[tuple[float, FloatArray]] = []
    while remaining.size:
        lead = remaining[0]
        chosen = iou(rows[lead], rows[remaining]) > threshold
        members = remaining[chosen]
        if members.size:
            weights = scores[members].astype(np.float32)
            merged = (rows[members] * weights[:, None]).sum(axis=0) / weights.sum()
        else:  # a degenerate lead (zero area) overlaps nothing, not even itself
            merged = rows[lead].copy()
        out.append((float(scores[lead]), merged.astype(np.float32)))
        rest = remaining[~chosen]
        if rest.size == remaining.size:
            break
        remaining = rest
    return out
