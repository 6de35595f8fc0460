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

This module owns the pose graph's order and settings, the ROI from a detection, the
landmark decoding, heatmap refinement and projections. The calculators it shares with
the BlazeFace port live in :mod:`.letterbox` (``ImageToTensorCalculator`` and the
letterbox removals), :mod:`.ssd` (anchors, detection decoding, weighted NMS) and
:mod:`._litert` (model loading). Normalised coordinates are fractions of the image given
to :meth:`BlazePose.process` (0..1, may fall outside).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..errors import ModelError
from ..models.cache import model_file
from ..types import Image, check_rgb
from . import ssd
from ._litert import DEFAULT_THREADS, load_interpreter, output_index
from .letterbox import WHOLE_IMAGE, Letterbox, Roi, image_to_tensor

FloatArray = npt.NDArray[np.float32]

WHO = "BlazePose"  # names the model in errors
MODEL_ID = "blazepose-full"  # catalogue id: the two files below, bundled
DETECTOR_MODEL = "pose_detection.tflite"
LANDMARK_MODEL = "pose_landmark_full.tflite"

# --- PoseDetectionCpu -------------------------------------------------------------
DETECTOR_SIZE = 224
DETECTOR_RANGE = (-1.0, 1.0)
NUM_ANCHORS = 2254
NUM_KEYPOINTS = 4
KEYPOINT_OFFSET = 4  # box x/y centre, w, h, then the keypoints x, y
NUM_COORDS = KEYPOINT_OFFSET + 2 * NUM_KEYPOINTS
# min_scale 0.1484375 / max_scale 0.75 only size the anchors, which fixed_anchor_size
# makes 1 x 1: the decoder then reads box sizes and offsets in units of the input size.
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
NUM_ANCHOR_ASPECT_RATIOS = 1  # aspect_ratios: [1.0]
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
HEATMAP_SIZE = 64  # the landmark model's heatmap: 64 x 64 cells, one channel a landmark
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


def remove_letterbox(
    row: FloatArray, letterbox: Letterbox
) -> tuple[tuple[float, float, float, float], tuple[tuple[float, float], ...]]:
    """``DetectionLetterboxRemovalCalculator``: a decoded row (xmin, ymin, xmax, ymax,
    keypoints) as box (xmin, ymin, w, h) and keypoints normalised to the image."""
    values = row.astype(np.float64)
    xs, ys = letterbox.remove(values[0::2], values[1::2])
    width = (values[2] - values[0]) / letterbox.x_scale
    height = (values[3] - values[1]) / letterbox.y_scale
    box = (float(xs[0]), float(ys[0]), float(width), float(height))
    keypoints = tuple((float(x), float(y)) for x, y in zip(xs[2:], ys[2:], strict=True))
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
        conf = ssd.sigmoid(heatmap[r0:r1, c0:c1, i])
        total = float(conf.sum())
        if float(conf.max()) >= min_confidence and total > 0:
            rows = np.arange(r0, r1, dtype=np.float32)[:, None]
            cols = np.arange(c0, c1, dtype=np.float32)[None, :]
            landmarks[i, 0] = float((conf * cols).sum()) / hm_w / total
            landmarks[i, 1] = float((conf * rows).sum()) / hm_h / total


def project_landmarks(landmarks: FloatArray, roi: Roi, letterbox: Letterbox) -> FloatArray:
    """``LandmarkLetterboxRemovalCalculator`` then ``LandmarkProjectionCalculator``:
    landmarks normalised to the tensor (x, y, z, ...) to normalised image coordinates."""
    out = landmarks.astype(np.float32, copy=True)
    x, y = letterbox.remove(out[:, 0], out[:, 1])
    x, y = x - 0.5, y - 0.5
    z = out[:, 2] / letterbox.x_scale
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


def _outputs(interpreter: Any, sizes: dict[str, int]) -> dict[str, int]:
    """Output tensor index per role, found by its number of values."""
    return {role: output_index(interpreter, size, WHO) for role, size in sizes.items()}


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
        self._detector = load_interpreter(model_file(MODEL_ID, DETECTOR_MODEL), WHO, num_threads)
        self._landmarker = load_interpreter(model_file(MODEL_ID, LANDMARK_MODEL), WHO, num_threads)
        self._det_in = int(self._detector.get_input_details()[0]["index"])
        self._det_out = _outputs(
            self._detector, {"boxes": NUM_ANCHORS * NUM_COORDS, "scores": NUM_ANCHORS}
        )
        self._lm_in = int(self._landmarker.get_input_details()[0]["index"])
        self._lm_out = _outputs(
            self._landmarker,
            {
                "landmarks": NUM_LANDMARKS * 5,
                "flag": 1,
                "heatmap": HEATMAP_SIZE * HEATMAP_SIZE * NUM_LANDMARKS,
                "world": NUM_LANDMARKS * 3,
            },
        )
        self._anchors = ssd.anchor_centres(
            DETECTOR_SIZE,
            ANCHOR_STRIDES,
            aspect_ratios=NUM_ANCHOR_ASPECT_RATIOS,
            interpolated_scale_aspect_ratio=ANCHOR_INTERPOLATED_ASPECT_RATIO,
        )
        if len(self._anchors) != NUM_ANCHORS:  # pragma: no cover - constants
            raise ModelError(f"{DETECTOR_MODEL}: {len(self._anchors)} anchors, not {NUM_ANCHORS}")
        self._lock = threading.Lock()

    def detect(self, image: Image) -> PoseDetection | None:
        """``PoseDetectionCpu``: the first (highest-scoring) person detection."""
        tensor, letterbox = image_to_tensor(
            image, WHOLE_IMAGE, DETECTOR_SIZE, DETECTOR_RANGE, cv2.BORDER_CONSTANT
        )
        self._detector.set_tensor(self._det_in, tensor)
        self._detector.invoke()
        raw_boxes = self._detector.get_tensor(self._det_out["boxes"])
        raw_scores = self._detector.get_tensor(self._det_out["scores"])
        rows, scores = ssd.decode(
            raw_boxes, raw_scores, self._anchors, DETECTOR_SIZE, self.min_detection_confidence
        )
        if scores.size == 0:
            return None
        score, row = ssd.weighted_nms(rows, scores)[0]
        box, keypoints = remove_letterbox(row, letterbox)
        return PoseDetection(score=score, box=box, keypoints=keypoints)

    def landmarks(self, image: Image, roi: Roi) -> tuple[FloatArray, FloatArray, float] | None:
        """``PoseLandmarkByRoiCpu`` on ``roi``: (33 landmarks, 33 world landmarks, pose
        flag), or None unless the flag is above ``min_presence``."""
        tensor, letterbox = image_to_tensor(
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
        norm[:, 3] = ssd.sigmoid(raw[:, 3])
        norm[:, 4] = ssd.sigmoid(raw[:, 4])
        refine_from_heatmap(norm, heatmap)
        body = project_landmarks(norm[:NUM_BODY_LANDMARKS], roi, letterbox)
        world = np.empty((NUM_BODY_LANDMARKS, 5), np.float32)
        world[:, :3] = project_world_landmarks(world_raw[:NUM_BODY_LANDMARKS], roi)
        world[:, 3:] = norm[:NUM_BODY_LANDMARKS, 3:]  # VisibilityCopyCalculator
        return body, world, flag

    def process(self, image: Image) -> PoseResult | None:
        """The pose of the most prominent person in ``image`` (RGB uint8), or None."""
        check_rgb(image)
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
