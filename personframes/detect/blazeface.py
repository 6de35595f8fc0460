"""BlazeFace (mediapipe's face detection models) on LiteRT, with mediapipe's processing.

A port of what mediapipe 0.10.21's ``FaceDetectionShortRangeCpu`` /
``FaceDetectionFullRangeCpu`` graphs do around the ``.tflite`` model:

1. ``ImageToTensorCalculator``: the whole image, padded to a square around its centre
   (letterbox, keep aspect ratio, zero border), warped to the model input with
   ``cv2.warpPerspective`` (bilinear) and mapped from 0..255 to -1..1.
2. ``SsdAnchorsCalculator``: anchor centres on the model's feature maps (fixed anchor
   size, offset 0.5); same-stride layers share one grid.
3. ``TensorsToDetectionsCalculator``: box centre/size and 6 keypoints decoded against
   the anchors (scales = input size), score = sigmoid(clip(logit, +-100)), detections
   below the minimum score dropped.
4. ``NonMaxSuppressionCalculator`` (WEIGHTED, IoU > 0.3): every group of overlapping
   detections becomes one, its box and keypoints the score-weighted mean of the group,
   its score the best of the group.
5. ``DetectionProjectionCalculator``: letterbox removed, coordinates relative to the
   image (0..1, may fall outside).

Keypoints are in mediapipe's order: the person's right eye, left eye, nose tip, mouth
centre, right ear tragion, left ear tragion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..models.bundled import bundled_path
from ..types import Image
from ._litert import DEFAULT_THREADS, load_interpreter, output_index

FloatArray = npt.NDArray[np.float32]

NUM_KEYPOINTS = 6
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS
SCORE_CLIPPING = 100.0  # logits are clipped to +-this before the sigmoid
NMS_MIN_SUPPRESSION = 0.3  # IoU above which detections are merged (weighted NMS)
ANCHOR_OFFSET = 0.5


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One face detection model and its graph's settings (mediapipe's options)."""

    model_file: str
    input_size: int  # square input side, px; also the x/y/w/h decoding scale
    strides: tuple[int, ...]  # one per SSD layer
    interpolated_scale_aspect_ratio: float  # > 0: a second anchor per cell
    num_anchors: int  # expected from the model's output shape
    graph_min_score: float  # the graph's own default (the project passes its own)


SHORT_RANGE = BlazeFaceSpec(
    model_file="face_detection_short_range.tflite",
    input_size=128,
    strides=(8, 16, 16, 16),
    interpolated_scale_aspect_ratio=1.0,
    num_anchors=896,
    graph_min_score=0.5,
)
FULL_RANGE = BlazeFaceSpec(
    model_file="face_detection_full_range_sparse.tflite",
    input_size=192,
    strides=(4,),
    interpolated_scale_aspect_ratio=0.0,
    num_anchors=2304,
    graph_min_score=0.6,
)


@dataclass(frozen=True)
class RawFace:
    """One detection, relative to the image (0..1 of its width / height).

    ``box`` is xmin, ymin, xmax, ymax; ``keypoints`` 6 x (x, y) in mediapipe's order.
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: tuple[tuple[float, float], ...]


def ssd_anchor_centres(
    input_size: int, strides: tuple[int, ...], interpolated: float
) -> FloatArray:
    """(N, 2) anchor centres x, y (0..1), in ``SsdAnchorsCalculator``'s order.

    With ``fixed_anchor_size`` every anchor is 1 x 1, so only the centres matter.
    Consecutive layers of one stride share a grid; each cell holds one anchor per
    layer (aspect ratio 1) plus one more per layer when ``interpolated`` > 0.
    """
    centres: list[FloatArray] = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (1 if interpolated > 0 else 0)
            last += 1
        size = math.ceil(input_size / strides[layer])
        grid = (np.arange(size, dtype=np.float32) + ANCHOR_OFFSET) / size
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def letterbox_transform(
    width: int, height: int, size: int
) -> tuple[npt.NDArray[np.float64], float]:
    """Perspective matrix image -> ``size``-square input, and the padded square's side.

    mediapipe's ``PadRoi`` (keep aspect ratio) grows the whole-image ROI to a square
    about the image centre; the OpenCV converter maps its corners
    (``cv2.boxPoints``) onto the input's corners with ``getPerspectiveTransform``.
    """
    side = float(width) if height / width < 1.0 else float(height)
    cx, cy = width / 2.0, height / 2.0
    corners = cv2.boxPoints(((cx, cy), (side, side), 0.0)).astype(np.float32)
    target = np.array([[0, size], [0, 0], [size, 0], [size, size]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(corners, target), dtype=np.float64), side


def image_to_tensor(image: Image, size: int) -> tuple[FloatArray, float]:
    """The 1 x size x size x 3 float input in -1..1 and the letterboxed square's side."""
    height, width = image.shape[:2]
    matrix, side = letterbox_transform(width, height, size)
    warped = cv2.warpPerspective(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    tensor = warped.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    return tensor[None], side


def decode(
    raw_boxes: FloatArray,
    raw_scores: FloatArray,
    anchors: FloatArray,
    scale: float,
    min_score: float,
) -> tuple[FloatArray, FloatArray]:
    """Boxes and keypoints over the model input (0..1), and scores, of the kept anchors.

    Returns ``(coords, scores)``: coords (K, 16) = xmin, ymin, xmax, ymax, then 6 x (x, y).
    """
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -SCORE_CLIPPING, SCORE_CLIPPING)
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    keep = scores >= np.float32(min_score)
    raw = raw_boxes.reshape(-1, NUM_COORDS)[keep] / np.float32(scale)
    anchor = anchors[keep]
    cx = raw[:, 0] + anchor[:, 0]
    cy = raw[:, 1] + anchor[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    coords = np.empty_like(raw)
    coords[:, 0] = cx - w / 2
    coords[:, 1] = cy - h / 2
    coords[:, 2] = cx + w / 2
    coords[:, 3] = cy + h / 2
    coords[:, 4::2] = raw[:, 4::2] + anchor[:, :1]
    coords[:, 5::2] = raw[:, 5::2] + anchor[:, 1:]
    # As mediapipe: boxes decoded with a negative (or NaN) size are dropped.
    valid = (w >= 0) & (h >= 0)
    return coords[valid], scores[keep][valid]


def weighted_nms(
    coords: FloatArray, scores: FloatArray, threshold: float = NMS_MIN_SUPPRESSION
) -> list[tuple[float, FloatArray]]:
    """mediapipe's WEIGHTED non-maximum suppression on (K, 16) coords.

    The best remaining detection takes every remaining one whose IoU with it is above
    ``threshold`` (itself included); the group's coordinates are averaged weighted by
    score and it keeps the best score. Returns (score, coords) per group, best first.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = [int(i) for i in order]
    out: list[tuple[float, FloatArray]] = []
    while remaining:
        lead = remaining[0]
        rest = np.array(remaining)
        overlap = _iou(coords[lead, :4], coords[rest, :4])
        members = rest[overlap > threshold]
        weights = scores[members].astype(np.float32)
        if members.size:
            merged = (coords[members] * weights[:, None]).sum(axis=0) / weights.sum()
        else:  # a degenerate lead (zero area) overlaps nothing, not even itself
            merged = coords[lead]
        out.append((float(scores[lead]), merged.astype(np.float32)))
        left = [int(i) for i in rest[overlap <= threshold]]
        if len(left) == len(remaining):
            break
        remaining = left
    return out


def _iou(box: FloatArray, boxes: FloatArray) -> npt.NDArray[np.float32]:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    union = (
        (box[2] - box[0]) * (box[3] - box[1])
        + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        - inter
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0).astype(np.float32)


class BlazeFace:
    """One BlazeFace model on LiteRT: ``detect(image)`` -> faces relative to the image."""

    def __init__(
        self,
        spec: BlazeFaceSpec,
        *,
        who: str = "blazeface",
        model_path: Path | None = None,
        num_threads: int = DEFAULT_THREADS,
    ) -> None:
        self.spec = spec
        self.model_path = model_path if model_path is not None else bundled_path(spec.model_file)
        self._interpreter: Any = load_interpreter(self.model_path, who, num_threads)
        self._input = int(self._interpreter.get_input_details()[0]["index"])
        self._boxes = output_index(self._interpreter, spec.num_anchors * NUM_COORDS, who)
        self._scores = output_index(self._interpreter, spec.num_anchors, who)
        self.anchors = ssd_anchor_centres(
            spec.input_size, spec.strides, spec.interpolated_scale_aspect_ratio
        )
        if len(self.anchors) != spec.num_anchors:  # pragma: no cover - a spec error
            raise AssertionError(f"{len(self.anchors)} anchors for {spec.num_anchors} outputs")

    def detect(self, image: Image, min_score: float) -> list[RawFace]:
        """Faces in an RGB uint8 image with score >= ``min_score``, best first."""
        height, width = image.shape[:2]
        size = self.spec.input_size
        tensor, side = image_to_tensor(image, size)
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes)
        raw_scores = self._interpreter.get_tensor(self._scores)
        coords, scores = decode(raw_boxes, raw_scores, self.anchors, size, min_score)
        faces = []
        for score, merged in weighted_nms(coords, scores):
            # Letterbox removal: input (0..1 of the padded square) -> image (0..1).
            xs = ((merged[0::2] - 0.5) * side + width / 2.0) / width
            ys = ((merged[1::2] - 0.5) * side + height / 2.0) / height
            faces.append(
                RawFace(
                    score=score,
                    box=(float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])),
                    keypoints=tuple(
                        (float(x), float(y)) for x, y in zip(xs[2:], ys[2:], strict=True)
                    ),
                )
            )
        return faces
