"""BlazePose (mediapipe's pose detector + full landmark model) on LiteRT.

A port of what mediapipe 0.10.21's ``PoseLandmarkCpu`` graph does around its two
``.tflite`` models with ``static_image_mode=True`` (a detection on every image, no
tracking, no smoothing, no segmentation). The calculators ported, in graph order, with
the options the graph gives them:

``PoseDetectionCpu``
    ``ImageToTensorCalculator``: the whole image letterboxed (aspect kept, zero border)
    into 224x224, values in [-1, 1]; ``SsdAnchorsCalculator`` (5 layers, strides
    8/16/32/32/32, fixed anchor size, aspect ratio 1 plus the interpolated one: 2254
    anchors); ``TensorsToDetectionsCalculator`` (12 values per anchor: box centre and
    size, then 4 keypoints; scale 224, score sigmoid with clipping at 100,
    min_score_thresh = min_detection_confidence); ``NonMaxSuppressionCalculator``
    (WEIGHTED, IoU, min_suppression_threshold 0.3); ``DetectionLetterboxRemovalCalculator``.
``PoseDetectionToRoi``
    ``AlignmentPointsRectsCalculator`` (centre: keypoint 0 = hip centre; size: twice the
    distance to keypoint 1; rotation: from keypoint 0 to 1, target angle 90 degrees);
    ``RectTransformationCalculator`` (square on the long side, scale 1.25).
``PoseLandmarkByRoiCpu``
    ``ImageToTensorCalculator``: the rotated ROI warped to 256x256 (aspect kept,
    replicated border, values in [0, 1]); ``TensorsToLandmarksCalculator`` (39 x 5 values
    in 256 px, visibility and presence through a sigmoid); ``ThresholdingCalculator`` on
    the pose flag (min_tracking_confidence 0.5); ``RefineLandmarksFromHeatmapCalculator``
    (kernel 9 as mp.solutions.pose runs it, see ``HEATMAP_KERNEL``; min confidence 0.5);
    ``LandmarkLetterboxRemovalCalculator``;
    ``LandmarkProjectionCalculator`` (the ROI's rotation, size and centre);
    ``TensorsToLandmarksCalculator`` + ``VisibilityCopyCalculator`` +
    ``WorldLandmarkProjectionCalculator`` for the world landmarks (metres, rotated by the
    ROI's rotation).

Image warps follow mediapipe's OpenCV converter: the ROI corners from
``cv2.boxPoints``, a transform from ``cv2.getPerspectiveTransform``, bilinear warping of
the uint8 image, then scaling to the float range. Normalised coordinates are fractions of
the image given to :meth:`BlazePose.process` (0..1, may fall outside).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..errors import ModelError
from ..models.bundled import bundled_path
from ..types import Image

FloatArray = npt.NDArray[np.float32]

DETECTOR_MODEL = "pose_detection.tflite"
LANDMARK_MODEL = "pose_landmark_full.tflite"
# One interpreter thread per model: the pipeline runs pose on a worker thread beside
# decoding, face detection and head pose (see pipeline/steps/scan.py).
DEFAULT_THREADS = 1

# --- PoseDetectionCpu -------------------------------------------------------------
DETECTOR_SIZE = 224
DETECTOR_RANGE = (-1.0, 1.0)
NUM_ANCHORS = 2254
NUM_COORDS = 12  # box x/y centre, w, h, then 4 keypoints x, y
NUM_KEYPOINTS = 4
KEYPOINT_OFFSET = 4
SCORE_CLIPPING = 100.0
NMS_MIN_SUPPRESSION = 0.3
# min_scale 0.1484375 / max_scale 0.75 only size the anchors, which fixed_anchor_size
# makes 1 x 1: the decoder then reads box sizes and offsets in units of the input size.
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
ANCHOR_ASPECT_RATIOS = (1.0,)
ANCHOR_INTERPOLATED_ASPECT_RATIO = 1.0  # the option's default: one extra anchor per cell

# --- PoseDetectionToRoi ---------------------------------------------------------------
ROI_START_KEYPOINT = 0  # hip centre
ROI_END_KEYPOINT = 1  # full-body size and rotation point
ROI_TARGET_ANGLE = math.pi / 2
ROI_SCALE = 1.25

# --- PoseLandmarkByRoiCpu ----------------------------------------------------------
LANDMARK_SIZE = 256
LANDMARK_RANGE = (0.0, 1.0)
NUM_LANDMARKS = 39  # 33 body landmarks + 2 auxiliary (ROI for tracking) + 4 unused
NUM_BODY_LANDMARKS = 33
# ThresholdingCalculator on the pose flag (min_tracking_confidence): a pose is kept when
# the flag is strictly above it.
MIN_PRESENCE = 0.5
# The graph's options say kernel_size 7, but mediapipe's Python solutions (mp.solutions.pose,
# which the project used) run the graph from its canonical, already-expanded config, where
# RefineLandmarksFromHeatmapCalculator ends up with its default, 9: checked against that
# graph's own raw landmarks, heatmap and refined landmarks on the reference inputs (kernel 9
# agrees to 4e-7, kernel 7 differs by up to 0.05 of the crop on hands).
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class PoseDetection:
    """One person detection, normalised to the processed image.

    ``box``: xmin, ymin, width, height. ``keypoints``: 4 x (x, y): hip centre,
    full-body size/rotation point, shoulder centre, upper-body size/rotation point.
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Roi:
    """mediapipe's NormalizedRect: centre and size normalised to the image, rotation in
    radians (positive = clockwise in image view)."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float


@dataclass(frozen=True)
class PoseResult:
    """One person's pose, as mediapipe's Pose graph returns it.

    ``landmarks``: 33 x (x, y, z, visibility, presence); x, y normalised to the image,
    z in the same scale as x (image width), hips ~ 0, smaller = nearer.
    ``world_landmarks``: 33 x (x, y, z, visibility, presence); x, y, z in metres, origin
    between the hips. ``presence``: the landmark model's pose flag (0..1).
    """

    landmarks: FloatArray
    world_landmarks: FloatArray
    presence: float
    detection: PoseDetection
    roi: Roi


def _sigmoid(values: FloatArray) -> FloatArray:
    with np.errstate(over="ignore"):  # exp overflows to inf for very negative inputs: 0
        return np.asarray(1.0 / (1.0 + np.exp(-values)), dtype=np.float32)


# ------------------------------------------------------------------------ anchors


def ssd_anchors(
    input_size: int = DETECTOR_SIZE,
    strides: tuple[int, ...] = ANCHOR_STRIDES,
    offset: float = ANCHOR_OFFSET,
    aspect_ratios: tuple[float, ...] = ANCHOR_ASPECT_RATIOS,
    interpolated_aspect_ratio: float = ANCHOR_INTERPOLATED_ASPECT_RATIO,
) -> FloatArray:
    """Anchor centres (N x 2: x, y, normalised) of ``SsdAnchorsCalculator`` with
    ``fixed_anchor_size`` (every anchor 1 x 1, so only the count per cell matters)."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        # Layers of the same stride are merged: their anchors share the cells.
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += len(aspect_ratios)
            if interpolated_aspect_ratio > 0.0:
                per_cell += 1
            last += 1
        fm = math.ceil(input_size / strides[layer])
        for y in range(fm):
            for x in range(fm):
                centre = ((x + offset) / fm, (y + offset) / fm)
                centres.extend([centre] * per_cell)
        layer = last
    return np.asarray(centres, dtype=np.float32)


# --------------------------------------------------------------- image to tensor


def _pad_roi(roi: Roi, size_px: tuple[float, float], tensor: int) -> tuple[Roi, float, float]:
    """``PadRoi`` with keep_aspect_ratio for a square tensor: the ROI widened to the
    tensor's aspect ratio, and the horizontal / vertical letterbox padding (each side,
    as a fraction of the tensor)."""
    width, height = roi.width * size_px[0], roi.height * size_px[1]
    tensor_ratio = 1.0  # square tensors only (224x224, 256x256)
    roi_ratio = height / width
    horizontal = vertical = 0.0
    if tensor_ratio > roi_ratio:
        new_w, new_h = width, width * tensor_ratio
        vertical = (1.0 - roi_ratio / tensor_ratio) / 2.0
    else:
        new_w, new_h = height / tensor_ratio, height
        horizontal = (1.0 - tensor_ratio / roi_ratio) / 2.0
    padded = Roi(roi.x_center, roi.y_center, new_w / size_px[0], new_h / size_px[1], roi.rotation)
    return padded, horizontal, vertical


def roi_transform(roi: Roi, width: int, height: int, tensor: int) -> npt.NDArray[np.float64]:
    """3 x 3 matrix taking image px to tensor px for the (already padded) ``roi``, as
    mediapipe builds it: ``cv2.boxPoints`` corners mapped onto the tensor's corners by
    ``cv2.getPerspectiveTransform`` (an affine map, up to float rounding)."""
    rotated = (
        (roi.x_center * width, roi.y_center * height),
        (roi.width * width, roi.height * height),
        math.degrees(roi.rotation),
    )
    src = cv2.boxPoints(rotated).astype(np.float32)
    size = float(tensor)
    dst = np.array([[0.0, size], [0.0, 0.0], [size, 0.0], [size, size]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, dst), dtype=np.float64)


def image_to_tensor(
    image: Image,
    roi: Roi,
    tensor: int,
    value_range: tuple[float, float],
    border: int,
) -> tuple[FloatArray, float, float]:
    """``ImageToTensorCalculator`` (keep_aspect_ratio): the ROI warped into a
    ``tensor`` x ``tensor`` float tensor (1 x H x W x 3) in ``value_range``, and the
    letterbox padding (horizontal, vertical) it left."""
    height, width = image.shape[:2]
    padded, horizontal, vertical = _pad_roi(roi, (width, height), tensor)
    matrix = roi_transform(padded, width, height, tensor)
    # warpPerspective as mediapipe calls it: warpAffine with the same matrix rounds its
    # sample positions differently and moves landmarks ~2x further from mediapipe's.
    warped = cv2.warpPerspective(
        image,
        matrix,
        (tensor, tensor),
        flags=cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=(0, 0, 0),
    )
    low, high = value_range
    scale = (high - low) / 255.0
    out = warped.astype(np.float32) * np.float32(scale) + np.float32(low)
    return out[np.newaxis], horizontal, vertical


# --------------------------------------------------------------------- detections


def decode_detections(
    raw_boxes: FloatArray, raw_scores: FloatArray, anchors: FloatArray, min_score: float
) -> tuple[FloatArray, FloatArray]:
    """``TensorsToDetectionsCalculator``: (scores K, boxes K x 12) for the anchors whose
    sigmoid score reaches ``min_score``. Box rows: xmin, ymin, xmax, ymax, then 4
    keypoints x, y; normalised to the detector's input tensor."""
    scores = raw_scores.reshape(-1).astype(np.float32)
    scores = _sigmoid(np.clip(scores, -SCORE_CLIPPING, SCORE_CLIPPING))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return np.zeros(0, np.float32), np.zeros((0, NUM_COORDS), np.float32)
    raw = raw_boxes.reshape(-1, NUM_COORDS)[keep].astype(np.float32)
    anchor = anchors[keep]
    scale = np.float32(DETECTOR_SIZE)
    # Anchors are 1 x 1 (fixed_anchor_size): offsets / scale + anchor centre.
    cx = raw[:, 0] / scale + anchor[:, 0]
    cy = raw[:, 1] / scale + anchor[:, 1]
    w = raw[:, 2] / scale
    h = raw[:, 3] / scale
    boxes = np.empty((keep.size, NUM_COORDS), np.float32)
    boxes[:, 0] = cx - w / 2
    boxes[:, 1] = cy - h / 2
    boxes[:, 2] = cx + w / 2
    boxes[:, 3] = cy + h / 2
    kp = raw[:, KEYPOINT_OFFSET:].reshape(-1, NUM_KEYPOINTS, 2) / scale + anchor[:, None, :]
    boxes[:, KEYPOINT_OFFSET:] = kp.reshape(-1, NUM_KEYPOINTS * 2)
    # Decoded boxes of negative (or NaN) size are dropped, as mediapipe does.
    valid = (boxes[:, 2] - boxes[:, 0] >= 0) & (boxes[:, 3] - boxes[:, 1] >= 0)
    return scores[keep][valid], boxes[valid]


def _iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    """IoU of ``box`` (xmin, ymin, xmax, ymax) with each row of ``boxes``."""
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
    scores: FloatArray, boxes: FloatArray, threshold: float = NMS_MIN_SUPPRESSION
) -> list[tuple[float, FloatArray]]:
    """``NonMaxSuppressionCalculator`` with the WEIGHTED algorithm and IoU overlap.

    Highest score first: every remaining detection overlapping it by more than
    ``threshold`` (itself included) is merged into a score-weighted mean of box corners
    and keypoints, keeping the top score. Returns (score, row of 12) per output.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    out: list[tuple[float, FloatArray]] = []
    while remaining.size:
        top = remaining[0]
        similarity = _iou(boxes[top], boxes[remaining])
        chosen = similarity > threshold
        candidates = remaining[chosen]
        if candidates.size:
            weights = scores[candidates].astype(np.float32)
            merged = (boxes[candidates] * weights[:, None]).sum(axis=0) / weights.sum()
        else:
            merged = boxes[top].copy()
        out.append((float(scores[top]), merged.astype(np.float32)))
        rest = remaining[~chosen]
        if rest.size == remaining.size:
            break
        remaining = rest
    return out


def remove_letterbox(
    row: FloatArray, horizontal: float, vertical: float
) -> tuple[tuple[float, float, float, float], tuple[tuple[float, float], ...]]:
    """``DetectionLetterboxRemovalCalculator``: a decoded row (xmin, ymin, xmax, ymax,
    keypoints) as box (xmin, ymin, w, h) and keypoints normalised to the image."""
    sx, sy = 1.0 - 2 * horizontal, 1.0 - 2 * vertical
    xmin, ymin, xmax, ymax = (float(v) for v in row[:4])
    box = (
        (xmin - horizontal) / sx,
        (ymin - vertical) / sy,
        (xmax - xmin) / sx,
        (ymax - ymin) / sy,
    )
    kps = row[KEYPOINT_OFFSET:].reshape(NUM_KEYPOINTS, 2)
    keypoints = tuple(((float(x) - horizontal) / sx, (float(y) - vertical) / sy) for x, y in kps)
    return box, keypoints


# ----------------------------------------------------------------------------- ROI


def _normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def detection_to_roi(detection: PoseDetection, width: int, height: int) -> Roi:
    """``AlignmentPointsRectsCalculator`` then ``RectTransformationCalculator``
    (square_long, scale 1.25) for a detection on a ``width`` x ``height`` image."""
    x0 = detection.keypoints[ROI_START_KEYPOINT][0] * width
    y0 = detection.keypoints[ROI_START_KEYPOINT][1] * height
    x1 = detection.keypoints[ROI_END_KEYPOINT][0] * width
    y1 = detection.keypoints[ROI_END_KEYPOINT][1] * height
    size = math.hypot(x1 - x0, y1 - y0) * 2.0  # a square in px: square_long keeps it
    rotation = _normalize_radians(ROI_TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
    return Roi(
        x_center=x0 / width,
        y_center=y0 / height,
        width=size / width * ROI_SCALE,
        height=size / height * ROI_SCALE,
        rotation=rotation,
    )


# ----------------------------------------------------------------------- landmarks


def refine_from_heatmap(
    landmarks: FloatArray,
    heatmap: FloatArray,
    kernel: int = HEATMAP_KERNEL,
    min_confidence: float = HEATMAP_MIN_CONFIDENCE,
) -> None:
    """``RefineLandmarksFromHeatmapCalculator`` on ``landmarks`` (N x >=2, x/y
    normalised to the tensor), in place: each x/y becomes the sigmoid-weighted mean
    position of its heatmap channel in a ``kernel`` window around it, where that
    window's highest confidence reaches ``min_confidence``."""
    hm_h, hm_w, channels = heatmap.shape
    offset = (kernel - 1) // 2
    for i in range(min(channels, landmarks.shape[0])):
        col = int(landmarks[i, 0] * hm_w)  # C++ float -> int: truncation toward zero
        row = int(landmarks[i, 1] * hm_h)
        # mediapipe compares the column with the height where the row belongs (its
        # check reads "center_col >= hm_height"): rows past the bottom are let through.
        if col < 0 or col >= hm_w or row < 0 or col >= hm_h:
            continue
        r0, r1 = max(0, row - offset), min(hm_h, row + offset + 1)
        c0, c1 = max(0, col - offset), min(hm_w, col + offset + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        conf = _sigmoid(heatmap[r0:r1, c0:c1, i])
        total = float(conf.sum())
        if float(conf.max()) >= min_confidence and total > 0:
            rows = np.arange(r0, r1, dtype=np.float32)[:, None]
            cols = np.arange(c0, c1, dtype=np.float32)[None, :]
            landmarks[i, 0] = float((conf * cols).sum()) / hm_w / total
            landmarks[i, 1] = float((conf * rows).sum()) / hm_h / total


def project_landmarks(
    landmarks: FloatArray, roi: Roi, horizontal: float, vertical: float
) -> FloatArray:
    """``LandmarkLetterboxRemovalCalculator`` then ``LandmarkProjectionCalculator``:
    landmarks normalised to the tensor (x, y, z, ...) to normalised image coordinates."""
    out = landmarks.astype(np.float32, copy=True)
    sx, sy = 1.0 - 2 * horizontal, 1.0 - 2 * vertical
    x = (out[:, 0] - horizontal) / sx - 0.5
    y = (out[:, 1] - vertical) / sy - 0.5
    z = out[:, 2] / sx
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    out[:, 0] = (cos * x - sin * y) * roi.width + roi.x_center
    out[:, 1] = (sin * x + cos * y) * roi.height + roi.y_center
    out[:, 2] = z * roi.width
    return out


def project_world_landmarks(world: FloatArray, roi: Roi) -> FloatArray:
    """``WorldLandmarkProjectionCalculator``: x/y rotated by the ROI's rotation."""
    out = world.astype(np.float32, copy=True)
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    x, y = world[:, 0].copy(), world[:, 1].copy()
    out[:, 0] = cos * x - sin * y
    out[:, 1] = sin * x + cos * y
    return out


# --------------------------------------------------------------------------- model


def _load(path: Path, num_threads: int) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise ModelError("BlazePose: LiteRT is not installed (pip install ai-edge-litert)") from exc
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"BlazePose: cannot load model {path.name} ({path}): {exc}") from exc
    return interpreter


def _outputs(interpreter: Any, shapes: dict[str, tuple[int, ...]], model: str) -> dict[str, int]:
    """Output tensor index per role, matched by shape (model output order otherwise)."""
    found: dict[str, int] = {}
    details = interpreter.get_output_details()
    for role, shape in shapes.items():
        for detail in details:
            if tuple(int(v) for v in detail["shape"]) == shape and detail["index"] not in (
                found.values()
            ):
                found[role] = int(detail["index"])
                break
        else:
            raise ModelError(f"{model}: no output of shape {shape} ({role})")
    return found


class BlazePose:
    """mediapipe's Pose (static image mode, full model) on LiteRT: one person per image.

    ``process`` runs one image at a time per instance (a lock guards the interpreters).
    """

    def __init__(
        self,
        min_detection_confidence: float = 0.5,
        min_presence: float = MIN_PRESENCE,
        num_threads: int = DEFAULT_THREADS,
    ) -> None:
        self.min_detection_confidence = min_detection_confidence
        self.min_presence = min_presence
        self._detector = _load(bundled_path(DETECTOR_MODEL), num_threads)
        self._landmarker = _load(bundled_path(LANDMARK_MODEL), num_threads)
        self._det_in = int(self._detector.get_input_details()[0]["index"])
        self._det_out = _outputs(
            self._detector,
            {"boxes": (1, NUM_ANCHORS, NUM_COORDS), "scores": (1, NUM_ANCHORS, 1)},
            DETECTOR_MODEL,
        )
        self._lm_in = int(self._landmarker.get_input_details()[0]["index"])
        self._lm_out = _outputs(
            self._landmarker,
            {
                "landmarks": (1, NUM_LANDMARKS * 5),
                "flag": (1, 1),
                "heatmap": (1, 64, 64, NUM_LANDMARKS),
                "world": (1, NUM_LANDMARKS * 3),
            },
            LANDMARK_MODEL,
        )
        self._anchors = ssd_anchors()
        if len(self._anchors) != NUM_ANCHORS:  # pragma: no cover - constants
            raise ModelError(f"{DETECTOR_MODEL}: {len(self._anchors)} anchors, not {NUM_ANCHORS}")
        self._lock = threading.Lock()

    def detect(self, image: Image) -> PoseDetection | None:
        """``PoseDetectionCpu``: the first (highest-scoring) person detection."""
        whole = Roi(0.5, 0.5, 1.0, 1.0, 0.0)
        tensor, horizontal, vertical = image_to_tensor(
            image, whole, DETECTOR_SIZE, DETECTOR_RANGE, cv2.BORDER_CONSTANT
        )
        self._detector.set_tensor(self._det_in, tensor)
        self._detector.invoke()
        raw_boxes = self._detector.get_tensor(self._det_out["boxes"])
        raw_scores = self._detector.get_tensor(self._det_out["scores"])
        scores, boxes = decode_detections(
            raw_boxes, raw_scores, self._anchors, self.min_detection_confidence
        )
        if scores.size == 0:
            return None
        score, row = weighted_nms(scores, boxes)[0]
        box, keypoints = remove_letterbox(row, horizontal, vertical)
        return PoseDetection(score=score, box=box, keypoints=keypoints)

    def landmarks(self, image: Image, roi: Roi) -> tuple[FloatArray, FloatArray, float] | None:
        """``PoseLandmarkByRoiCpu`` on ``roi``: (33 landmarks, 33 world landmarks, pose
        flag), or None unless the flag is above ``min_presence``."""
        tensor, horizontal, vertical = image_to_tensor(
            image, roi, LANDMARK_SIZE, LANDMARK_RANGE, cv2.BORDER_REPLICATE
        )
        self._landmarker.set_tensor(self._lm_in, tensor)
        self._landmarker.invoke()
        flag = float(self._landmarker.get_tensor(self._lm_out["flag"]).reshape(-1)[0])
        if not flag > self.min_presence:
            return None
        raw = self._landmarker.get_tensor(self._lm_out["landmarks"]).reshape(NUM_LANDMARKS, 5)
        heatmap = self._landmarker.get_tensor(self._lm_out["heatmap"])[0]
        world_raw = self._landmarker.get_tensor(self._lm_out["world"]).reshape(NUM_LANDMARKS, 3)
        norm = np.empty((NUM_LANDMARKS, 5), np.float32)
        norm[:, :3] = raw[:, :3] / np.float32(LANDMARK_SIZE)
        norm[:, 3] = _sigmoid(raw[:, 3])
        norm[:, 4] = _sigmoid(raw[:, 4])
        refine_from_heatmap(norm, heatmap)
        body = project_landmarks(norm[:NUM_BODY_LANDMARKS], roi, horizontal, vertical)
        world = np.empty((NUM_BODY_LANDMARKS, 5), np.float32)
        world[:, :3] = project_world_landmarks(world_raw[:NUM_BODY_LANDMARKS], roi)
        world[:, 3:] = norm[:NUM_BODY_LANDMARKS, 3:]  # VisibilityCopyCalculator
        return body, world, flag

    def process(self, image: Image) -> PoseResult | None:
        """The pose of the most prominent person in ``image`` (RGB uint8), or None."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image.shape}")
        height, width = image.shape[:2]
        with self._lock:
            detection = self.detect(image)
            if detection is None:
                return None
            roi = detection_to_roi(detection, width, height)
            found = self.landmarks(image, roi)
        if found is None:
            return None
        body, world, flag = found
        return PoseResult(
            landmarks=body, world_landmarks=world, presence=flag, detection=detection, roi=roi
        )

    def close(self) -> None:
        """Drop the interpreters (a later :meth:`process` fails)."""
        self._detector = None
        self._landmarker = None
