"""Record mediapipe's own outputs on fixed inputs, as a reference for a port off mediapipe.

Usage: python bench/record_mediapipe_reference.py [--out PATH] [--shared DIR]

Needs mediapipe (0.10.21) installed. Writes ``tests/fixtures/mediapipe_reference.json``
(by default), which ``tests/test_mediapipe_reference.py`` holds the project's detectors to.
A later change replaces mediapipe with LiteRT (``ai-edge-litert``) running the same
``.tflite`` files plus a port of mediapipe's pre/post-processing; this file is what that
port must reproduce.

Inputs (fixed, see ``SITTING_WINDOW_FRAMES`` / ``STAGE_PERFORMER_FRAMES`` /
``WHOLE_IMAGES``): labelled frames of the two shared videos, decoded with PyAV from the
start (frame index = 0-based decode order, upright RGB uint8), and the shared whole
images (PIL, converted to RGB). For each input it records:

- ``face_detection``: mediapipe's face detection as MediaPipeFullRange /
  MediaPipeShortRange ran it before the LiteRT port, with their defaults (confidence 0.4,
  downscaled to max_side 640 with INTER_AREA, results mapped back to full-frame px and
  clipped), and the raw ``mp.solutions.face_detection`` result on the image as given (no
  downscaling) with min_detection_confidence 0.3. (mediapipe 0.10.21 ignores that
  confidence: its graphs keep their own 0.6 full range / 0.5 short range, mediapipe
  issue 3896.)
- ``centerface``: the project's default face detector (CenterFace, 0.4, max_side 640);
  these faces are the ones the pipeline hands to the face mesh and the pose estimator.
- ``face_mesh``: FaceLandmarker as it was before the LiteRT port (face_landmark.tflite
  through cv2.dnn, OpenCV 4.x) on each of the first ``MAX_FACES`` CenterFace faces: crop
  centre/side/rotation, 468 points, presence.
- ``pose_per_face``: mediapipe Pose on body_region(face) for the same faces, as
  PoseEstimator.detect did before the LiteRT port (what detect_people does), plus
  world landmarks and mediapipe's internal pose detection / ROIs read from the same
  graph run with extra output streams.
- ``pose_whole_image``: ``mp.solutions.pose.Pose(static_image_mode=True,
  model_complexity=1)`` on the whole image (== PoseEstimator.detect(image)).

Field descriptions are written into the file (``fields``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.python.solution_base import SolutionBase
from PIL import Image as PILImage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from personframes.detect import create_face_detector  # noqa: E402
from personframes.detect.base import DownscalingFaceDetector, named_points  # noqa: E402
from personframes.detect.face_landmarks import FaceLandmarker  # noqa: E402
from personframes.detect.mediapipe_face import (  # noqa: E402
    KEYPOINT_NAMES,
    MediaPipeFaceDetector,
    MediaPipeFullRange,
    MediaPipeShortRange,
)
from personframes.detect.pose import (  # noqa: E402
    BodyPose,
    Landmark,
    belongs_to,
    body_region,
)
from personframes.resize import shrink_to_fit  # noqa: E402
from personframes.types import FIVE_POINT_NAMES, Box, FaceDetection, Image  # noqa: E402
from personframes.video.decode import VideoReader  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "mediapipe_reference.json"
SCHEMA = 1

# Every 3rd labelled row of sitting_window (rows 0, 3, 6, ...: early profiles, looking
# down/up, walking, an empty frame), without the empty 495.
SITTING_WINDOW_FRAMES = (0, 45, 90, 135, 180, 270, 315, 360, 405, 450, 540)
# 5: performer + pianist (two faces); 20/35/50: profile close-ups (35 sharp, 20/50
# blurred); 95/140/200: medium shots; 215/230/260: the audience shot (several faces).
STAGE_PERFORMER_FRAMES = (5, 20, 35, 50, 95, 140, 200, 215, 230, 260)
WHOLE_IMAGES = (
    "lowres_portrait_a.jpg",
    "lowres_portrait_b.jpg",
    "old_photo_group.png",
    "portrait_soft.jpg",
    "two_people.jpg",
)
MAX_FACES = 5  # face mesh / pose per face for the first (highest-scoring) CenterFace faces
# Mesh points are stored only where presence reaches HeadPoseEstimator's min_presence:
# below it the pipeline ignores them (keypoint fallback), and they would double the file.
MESH_POINTS_MIN_PRESENCE = 0.5
RAW_FACE_MIN_CONFIDENCE = 0.3
POSE_MODEL_COMPLEXITY = 1
POSE_MIN_DETECTION_CONFIDENCE = 0.5  # PoseEstimator's and mp Pose's default
POSE_MIN_TRACKING_CONFIDENCE = 0.5  # mp Pose's default (landmark presence threshold)
MODEL_FILES = (
    "face_detection/face_detection_full_range_sparse.tflite",
    "face_detection/face_detection_short_range.tflite",
    "face_landmark/face_landmark.tflite",
    "pose_detection/pose_detection.tflite",
    "pose_landmark/pose_landmark_full.tflite",
)

FIELDS: dict[str, str] = {
    "conventions": (
        "px = pixels of the full input image (x right, y down, origin top-left corner of "
        "the top-left pixel, as mediapipe/OpenCV use); rel = normalised to the image the "
        "model graph was given (0..1 of its width/height, may fall outside). Boxes "
        "x1,y1,x2,y2 unless named *_xywh. Normalised values rounded to 4 decimals, pixels to "
        "2, scores/visibility to 4, world landmarks (metres) to 4."
    ),
    "inputs[].id": "unique id: '<video stem>#<frame index>' or 'image:<file name>'",
    "inputs[].source": "path relative to the shared data folder",
    "inputs[].frame_index": "0-based index in PyAV decode order from the start (videos only)",
    "inputs[].time_s": "frame pts in seconds (videos only)",
    "inputs[].width/height": "size of the upright RGB image",
    "inputs[].rgb_sha256": "SHA-256 of the HxWx3 uint8 RGB array's bytes (C order), to check "
    "a consumer decodes exactly the same pixels",
    "face_detection.<model>.project": (
        "MediaPipeFullRange / MediaPipeShortRange with project defaults: detect(image) "
        "output (downscaled to scaled_size with cv2.INTER_AREA, min confidence 0.4, "
        "mapped back to px, clipped to the image, sorted by score)"
    ),
    "face_detection.<model>.project.scaled_size": "[w, h] the mediapipe graph was given",
    "face_detection.<model>.raw": (
        "mp.solutions.face_detection.FaceDetection(model_selection, "
        "min_detection_confidence=0.3).process(image) on the full image as given, in "
        "mediapipe's output order"
    ),
    "detection.score": "detection score (0..1)",
    "detection.box_rel": "relative_bounding_box [xmin, ymin, width, height] (raw only)",
    "detection.box_px": "[x1, y1, x2, y2] px (raw: rel * image size, not clipped)",
    "detection.keypoints_rel": "6 x [x, y] relative_keypoints in mediapipe order (raw only)",
    "detection.keypoints_px": (
        "6 x [x, y] px in mediapipe order: person's RIGHT_EYE, LEFT_EYE, NOSE_TIP, "
        "MOUTH_CENTER, RIGHT_EAR_TRAGION, LEFT_EAR_TRAGION (project names: "
        + ", ".join(KEYPOINT_NAMES)
        + ")"
    ),
    "centerface[]": (
        "create_face_detector('centerface').detect(image) (confidence 0.4, max_side 640): "
        "score, box_px, keypoints_px = 5 x [x, y] in order "
        + ", ".join(FIVE_POINT_NAMES)
        + "; px rounded to 4 decimals (not 2): they are the inputs of face_mesh and pose"
    ),
    "face_mesh[]": "FaceLandmarker().detect(image, centerface[face]) for face < MAX_FACES",
    "face_mesh[].face": "index into centerface[]",
    "face_mesh[].crop_center": "[cx, cy] px: centre of the CenterFace box (rotation centre)",
    "face_mesh[].crop_side": "side px of the square crop = max(box w, h) * 1.6",
    "face_mesh[].crop_box": "[x1, y1, x2, y2] px of that square before rotation",
    "face_mesh[].rotation_deg": (
        "angle given to cv2.getRotationMatrix2D (degrees, counter-clockwise positive in "
        "image view) that levels the CenterFace eyes; 0 for profiles/implausible eyes"
    ),
    "face_mesh[].input_size": "model input side (192); crop is warped with INTER_LINEAR, "
    "BORDER_CONSTANT 0, scaled to 0..1 float RGB",
    "face_mesh[].presence": "sigmoid of the model's face flag output",
    "face_mesh[].points": (
        "468 x [x, y, z]: x, y px in the full image; z = model z / (192 / crop_side), "
        "relative depth in px scale (smaller = nearer); null when presence < 0.5 "
        "(MESH_POINTS_MIN_PRESENCE: the pipeline does not use such points)"
    ),
    "pose_per_face[]": "what PoseEstimator.detect_people does per face, for face < MAX_FACES",
    "pose_per_face[].face": "index into centerface[]",
    "pose_per_face[].body_region": "body_region(face box, W, H) px (float, clipped)",
    "pose_per_face[].crop_px": "[x1, y1, x2, y2] integer crop the model ran on (rounded region)",
    "pose_per_face[].found": "mediapipe returned landmarks for the crop",
    "pose_per_face[].belongs_to_face": (
        "head landmarks near the face box; detect_people returns the pose only when true"
    ),
    "pose.*": "fields of a pose_per_face[] entry (when found) or of pose_whole_image",
    "pose.landmarks_px": (
        "pose_per_face only: 33 x [x, y, z, visibility] (PoseEstimator.detect): "
        "x, y px in the full image, "
        "z = mediapipe z * crop width (px scale, hips ~ 0, smaller = nearer), "
        "visibility 0..1"
    ),
    "pose.landmarks_rel": (
        "pose_whole_image only: 33 x [x, y, z, visibility] as mediapipe returns them, "
        "normalised to the whole image (per face: rel = (px - crop x1/y1) / crop w/h, "
        "z_rel = z_px / crop w)"
    ),
    "pose.world_landmarks": "33 x [x, y, z] metres, origin between the hips (pose_world_landmarks)",
    "pose.presence": (
        "not recorded: the legacy mp.solutions.pose output leaves NormalizedLandmark.presence "
        "unset (always 0.0); the graph thresholds it internally at min_tracking_confidence"
    ),
    "pose.pose_detection": (
        "internal graph stream 'pose_detection' (the first pose_detection.tflite "
        "detection after NMS): score, box_rel [xmin, ymin, w, h], keypoints_rel 4 x [x, y] "
        "(hip centre, full-body scale/rotation point, shoulder centre, upper-body point)"
    ),
    "pose.roi_from_detection": (
        "internal stream 'pose_rect_from_detection' (NormalizedRect: x_center, y_center, "
        "width, height, rotation radians): the ROI pose_landmark_full.tflite was run on"
    ),
    "pose.roi_from_landmarks": (
        "internal stream 'pose_rect_from_landmarks': ROI derived from the output landmarks "
        "(for tracking; unused in static mode)"
    ),
    "debug_graph_max_landmark_diff_px": (
        "largest px difference between the landmarks of the graph run that produced the "
        "pose.* debug streams and the recorded landmarks (expected 0: same graph, same input)"
    ),
    "pose_whole_image": (
        "mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) on the whole "
        "image; null when no person was found"
    ),
}


class DebugPose(SolutionBase):
    """mediapipe's Pose graph (same side inputs as Pose(static_image_mode=True)) with its
    debug streams exported too: the pose detection and the ROIs."""

    def __init__(self) -> None:
        super().__init__(
            binary_graph_path="mediapipe/modules/pose_landmark/pose_landmark_cpu.binarypb",
            side_inputs={
                "model_complexity": POSE_MODEL_COMPLEXITY,
                "smooth_landmarks": False,
                "enable_segmentation": False,
                "smooth_segmentation": False,
                "use_prev_landmarks": False,
            },
            calculator_params={
                "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": (
                    POSE_MIN_DETECTION_CONFIDENCE
                ),
                "poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__"
                "ThresholdingCalculator.threshold": POSE_MIN_TRACKING_CONFIDENCE,
            },
            outputs=[
                "pose_landmarks",
                "pose_world_landmarks",
                "pose_detection",
                "pose_rect_from_detection",
                "pose_rect_from_landmarks",
            ],
        )

    def run(self, image: Image) -> Any:
        return super().process(input_data={"image": image})


def r2(value: float) -> float:
    return round(float(value), 2)


def r4(value: float) -> float:
    return round(float(value), 4)


def box_px(box: Box) -> list[float]:
    return [r2(box.x1), r2(box.y1), r2(box.x2), r2(box.y2)]


def rgb_sha256(image: Image) -> str:
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- inputs


def iter_inputs(shared: Path) -> Iterator[tuple[dict[str, Any], Image]]:
    """(metadata, RGB image) for every fixed input, in a fixed order."""
    for stem, frames in (
        ("sitting_window", SITTING_WINDOW_FRAMES),
        ("stage_performer", STAGE_PERFORMER_FRAMES),
    ):
        path = shared / "videos" / f"{stem}.mp4"
        with VideoReader(path) as reader:
            for frame in reader.read(set(frames)):
                meta = {
                    "id": f"{stem}#{frame.index}",
                    "source": f"videos/{stem}.mp4",
                    "frame_index": frame.index,
                    "time_s": round(frame.time_s, 6),
                }
                yield meta, frame.image
    for name in WHOLE_IMAGES:
        with PILImage.open(shared / "images" / "whole" / name) as handle:
            image = np.asarray(handle.convert("RGB"), dtype=np.uint8)
        yield {"id": f"image:{name}", "source": f"images/whole/{name}"}, image


# ---------------------------------------------------------------- face detection


def project_detection(face: FaceDetection, names: Sequence[str], digits: int = 2) -> dict[str, Any]:
    box = face.box
    return {
        "score": r4(face.score),
        "box_px": [round(v, digits) for v in (box.x1, box.y1, box.x2, box.y2)],
        "keypoints_px": [
            [round(face.keypoints[n][0], digits), round(face.keypoints[n][1], digits)]
            for n in names
        ],
    }


def raw_detection(detection: Any, width: int, height: int) -> dict[str, Any]:
    data = detection.location_data
    rel = data.relative_bounding_box
    kps = list(data.relative_keypoints)
    return {
        "score": r4(detection.score[0]),
        "box_rel": [r4(rel.xmin), r4(rel.ymin), r4(rel.width), r4(rel.height)],
        "box_px": [
            r2(rel.xmin * width),
            r2(rel.ymin * height),
            r2((rel.xmin + rel.width) * width),
            r2((rel.ymin + rel.height) * height),
        ],
        "keypoints_rel": [[r4(kp.x), r4(kp.y)] for kp in kps],
        "keypoints_px": [[r2(kp.x * width), r2(kp.y * height)] for kp in kps],
    }


class MediapipeFaceDetector(DownscalingFaceDetector):
    """What ``project`` (MediaPipeFullRange / MediaPipeShortRange) was before the LiteRT
    port: ``mp.solutions.face_detection`` on the downscaled image. The recording must come
    from mediapipe itself, not from the port it is there to check."""

    def __init__(
        self, project: type[MediaPipeFaceDetector], confidence: float = 0.4, max_side: int = 640
    ) -> None:
        super().__init__(confidence=confidence, max_side=max_side)
        self.project = project
        self.NAME = project.NAME
        self._solution = mp.solutions.face_detection.FaceDetection(
            min_detection_confidence=confidence, model_selection=project.MODEL_SELECTION
        )

    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        height, width = image.shape[:2]
        found = []
        for detection in self._solution.process(image).detections or []:
            data = detection.location_data
            rel = data.relative_bounding_box
            box = Box(
                rel.xmin * width,
                rel.ymin * height,
                (rel.xmin + rel.width) * width,
                (rel.ymin + rel.height) * height,
            )
            points = [(kp.x * width, kp.y * height) for kp in data.relative_keypoints]
            found.append(
                FaceDetection(
                    box=box,
                    score=float(detection.score[0]),
                    keypoints=named_points(KEYPOINT_NAMES[: len(points)], points),
                    detector=self.NAME,
                )
            )
        return found

    def close(self) -> None:
        self._solution.close()


class FaceDetectionRecorder:
    def __init__(self) -> None:
        self.project = {
            "mediapipe-full": MediapipeFaceDetector(MediaPipeFullRange),
            "mediapipe-short": MediapipeFaceDetector(MediaPipeShortRange),
        }
        self.raw = {
            name: mp.solutions.face_detection.FaceDetection(
                min_detection_confidence=RAW_FACE_MIN_CONFIDENCE,
                model_selection=detector.project.MODEL_SELECTION,
            )
            for name, detector in self.project.items()
        }

    def settings(self) -> dict[str, Any]:
        return {
            name: {
                "class": d.project.__name__,
                "model_selection": d.project.MODEL_SELECTION,
                "model_id": d.project.SPEC.model_id,
                "project_confidence": d.confidence,
                "project_max_side": d.max_side,
                "raw_min_detection_confidence": RAW_FACE_MIN_CONFIDENCE,
            }
            for name, d in self.project.items()
        }

    def record(self, image: Image) -> dict[str, Any]:
        height, width = image.shape[:2]
        out: dict[str, Any] = {}
        for name, detector in self.project.items():
            small = shrink_to_fit(image, detector.max_side, area=True)
            found = detector.detect(image)
            result = self.raw[name].process(image)
            out[name] = {
                "project": {
                    "scaled_size": [int(small.shape[1]), int(small.shape[0])],
                    "detections": [project_detection(f, KEYPOINT_NAMES) for f in found],
                },
                "raw": {
                    "detections": [
                        raw_detection(d, width, height) for d in (result.detections or [])
                    ]
                },
            }
        return out

    def close(self) -> None:
        for detector in self.project.values():
            detector.close()
        for solution in self.raw.values():
            solution.close()


# ---------------------------------------------------------------- face mesh


class CvDnnFaceLandmarker(FaceLandmarker):
    """FaceLandmarker as it was before the LiteRT port: mediapipe's face_landmark.tflite
    through OpenCV's TFLite importer (OpenCV 4.x; OpenCV 5 drops the face-flag output)."""

    def __init__(self) -> None:
        super().__init__()
        path = Path(mp.__file__).parent / "modules" / "face_landmark" / "face_landmark.tflite"
        self._net = cv2.dnn.readNetFromTFLite(str(path))
        self._outputs = list(self._net.getUnconnectedOutLayersNames())

    def _infer(self, patch: Image) -> tuple[np.ndarray, float]:
        blob = patch.astype(np.float32)[None].transpose(0, 3, 1, 2) / 255.0
        self._net.setInput(blob)
        outs = self._net.forward(self._outputs)
        flag = next(o for o in outs if o.size == 1)
        mesh = next(o for o in outs if o.size == 468 * 3).reshape(468, 3).astype(np.float64)
        return mesh, float(flag.ravel()[0])


def record_mesh(landmarker: FaceLandmarker, image: Image, face: FaceDetection) -> dict[str, Any]:
    mesh = landmarker.detect(image, face)
    cx, cy = mesh.crop.center
    return {
        "crop_center": [r2(cx), r2(cy)],
        "crop_side": r2(mesh.crop.width),
        "crop_box": box_px(mesh.crop),
        "rotation_deg": r4(mesh.rotation),
        "input_size": landmarker.INPUT_SIZE,
        "presence": r4(mesh.presence),
        "points": (
            [[r2(x), r2(y), r2(z)] for x, y, z in mesh.points.tolist()]
            if mesh.presence >= MESH_POINTS_MIN_PRESENCE
            else None
        ),
    }


# ---------------------------------------------------------------- pose


def landmark_rows(landmarks: Any) -> list[list[float]]:
    return [[r4(lm.x), r4(lm.y), r4(lm.z), r4(lm.visibility)] for lm in landmarks.landmark]


def world_rows(landmarks: Any) -> list[list[float]]:
    return [[r4(lm.x), r4(lm.y), r4(lm.z)] for lm in landmarks.landmark]


def rect(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    return {
        "x_center": r4(value.x_center),
        "y_center": r4(value.y_center),
        "width": r4(value.width),
        "height": r4(value.height),
        "rotation": r4(value.rotation),
    }


def pose_debug(result: Any) -> dict[str, Any]:
    """World landmarks, detection and ROIs of one DebugPose run."""
    detection = result.pose_detection
    det = None
    if detection is not None:
        rel = detection.location_data.relative_bounding_box
        det = {
            "score": r4(detection.score[0]) if detection.score else None,
            "box_rel": [r4(rel.xmin), r4(rel.ymin), r4(rel.width), r4(rel.height)],
            "keypoints_rel": [
                [r4(kp.x), r4(kp.y)] for kp in detection.location_data.relative_keypoints
            ],
        }
    return {
        "world_landmarks": (
            world_rows(result.pose_world_landmarks)
            if result.pose_world_landmarks is not None
            else None
        ),
        "pose_detection": det,
        "roi_from_detection": rect(result.pose_rect_from_detection),
        "roi_from_landmarks": rect(result.pose_rect_from_landmarks),
    }


class MediapipePoseEstimator:
    """What the project's PoseEstimator.detect was before the LiteRT port: mediapipe's
    Pose(static_image_mode=True) on the rounded region, landmarks mapped to full-frame px
    (z scaled by the crop width). The recording must come from mediapipe itself, not from
    the port it is there to check."""

    def __init__(self) -> None:
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=POSE_MODEL_COMPLEXITY,
            enable_segmentation=False,
            min_detection_confidence=POSE_MIN_DETECTION_CONFIDENCE,
        )

    def detect(self, image: Image, region: Box) -> BodyPose | None:
        height, width = image.shape[:2]
        area = region.clip(width, height)
        x1, y1 = round(area.x1), round(area.y1)
        x2, y2 = round(area.x2), round(area.y2)
        if x2 - x1 < 16 or y2 - y1 < 16:
            return None
        result = self._pose.process(np.ascontiguousarray(image[y1:y2, x1:x2]))
        if result.pose_landmarks is None:
            return None
        cw, ch = x2 - x1, y2 - y1
        landmarks = tuple(
            Landmark(x1 + lm.x * cw, y1 + lm.y * ch, lm.z * cw, float(lm.visibility))
            for lm in result.pose_landmarks.landmark
        )
        return BodyPose(landmarks=landmarks, region=Box(x1, y1, x2, y2))

    def close(self) -> None:
        self._pose.close()


class PoseRecorder:
    def __init__(self) -> None:
        self.estimator = MediapipePoseEstimator()
        self.debug = DebugPose()
        self.whole = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=POSE_MODEL_COMPLEXITY
        )
        # Largest px difference between the DebugPose graph's landmarks and the
        # recorded ones (PoseEstimator / Pose) on the same image: 0 when the debug
        # streams describe the very run that was recorded.
        self.max_debug_diff = 0.0

    def per_face(self, image: Image, face: FaceDetection) -> dict[str, Any]:
        height, width = image.shape[:2]
        region = body_region(face.box, width, height)
        pose = self.estimator.detect(image, region)
        x1, y1 = round(region.x1), round(region.y1)
        x2, y2 = round(region.x2), round(region.y2)
        out: dict[str, Any] = {
            "body_region": box_px(region),
            "crop_px": [x1, y1, x2, y2],
            "found": pose is not None,
            "belongs_to_face": bool(pose is not None and belongs_to(pose, face.box)),
        }
        if pose is None:
            return out
        result = self.debug.run(np.ascontiguousarray(image[y1:y2, x1:x2]))
        ref = [(lm.x, lm.y) for lm in pose.landmarks]
        self._track(result.pose_landmarks, ref, x1, y1, x2 - x1, y2 - y1)
        out["landmarks_px"] = [
            [r2(lm.x), r2(lm.y), r2(lm.z), r4(lm.visibility)] for lm in pose.landmarks
        ]
        out.update(pose_debug(result))
        return out

    def whole_image(self, image: Image) -> dict[str, Any] | None:
        result = self.whole.process(image)
        if result.pose_landmarks is None:
            return None
        height, width = image.shape[:2]
        debug = self.debug.run(image)
        ref = [(lm.x * width, lm.y * height) for lm in result.pose_landmarks.landmark]
        self._track(debug.pose_landmarks, ref, 0, 0, width, height)
        return {
            "landmarks_rel": landmark_rows(result.pose_landmarks),
            **pose_debug(debug),
            "world_landmarks": world_rows(result.pose_world_landmarks),
        }

    def _track(
        self, debug: Any, ref: list[tuple[float, float]], x0: int, y0: int, w: int, h: int
    ) -> None:
        if debug is None:
            self.max_debug_diff = math.inf
            return
        for lm, (rx, ry) in zip(debug.landmark, ref, strict=True):
            diff = max(abs(x0 + lm.x * w - rx), abs(y0 + lm.y * h - ry))
            self.max_debug_diff = max(self.max_debug_diff, diff)

    def close(self) -> None:
        self.estimator.close()
        self.debug.close()
        self.whole.close()


# ---------------------------------------------------------------- main

_NUMBER_ARRAY = re.compile(
    r"\[\s*((?:null|true|false|-?[0-9.eE+-]+)(?:\s*,\s*(?:null|true|false|-?[0-9.eE+-]+))*)\s*\]"
)
_ARRAY_OF_ROWS = re.compile(r"\[\s*(\[[^\[\]]*\](?:\s*,\s*\[[^\[\]]*\])*)\s*\]")


def to_json(doc: dict[str, Any]) -> str:
    """Indented JSON with every array of numbers (and array of such rows) on one line."""
    text = json.dumps(doc, indent=1)
    text = _NUMBER_ARRAY.sub(lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)
    return _ARRAY_OF_ROWS.sub(lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)


def header() -> dict[str, Any]:
    import av
    import PIL

    mp_dir = Path(mp.__file__).resolve().parent
    return {
        "schema": SCHEMA,
        "generated_by": "bench/record_mediapipe_reference.py",
        "versions": {
            "python": sys.version.split()[0],
            "mediapipe": mp.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "pyav": av.__version__,
            "pillow": PIL.__version__,
        },
        "models": {
            Path(rel).name: {
                "path": f"mediapipe/modules/{rel}",
                "sha256": file_sha256(mp_dir / "modules" / rel),
            }
            for rel in MODEL_FILES
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args(argv)

    centerface = create_face_detector("centerface")
    landmarker = CvDnnFaceLandmarker()
    faces_rec = FaceDetectionRecorder()
    pose_rec = PoseRecorder()
    doc = header()
    doc["settings"] = {
        "max_faces": MAX_FACES,
        "centerface": {"confidence": centerface.confidence, "max_side": centerface.max_side},  # type: ignore[attr-defined]
        "face_detection": faces_rec.settings(),
        "face_mesh": {
            "crop_scale": landmarker.crop_scale,
            "input_size": landmarker.INPUT_SIZE,
            "points_min_presence": MESH_POINTS_MIN_PRESENCE,
        },
        "pose": {
            "model_complexity": POSE_MODEL_COMPLEXITY,
            "min_detection_confidence": POSE_MIN_DETECTION_CONFIDENCE,
            "min_tracking_confidence": POSE_MIN_TRACKING_CONFIDENCE,
            "static_image_mode": True,
        },
        "sitting_window_frames": list(SITTING_WINDOW_FRAMES),
        "stage_performer_frames": list(STAGE_PERFORMER_FRAMES),
        "whole_images": list(WHOLE_IMAGES),
    }
    doc["fields"] = FIELDS
    inputs: list[dict[str, Any]] = []
    try:
        for meta, image in iter_inputs(args.shared):
            height, width = image.shape[:2]
            entry: dict[str, Any] = {
                **meta,
                "width": width,
                "height": height,
                "rgb_sha256": rgb_sha256(image),
            }
            entry["face_detection"] = faces_rec.record(image)
            faces = centerface.detect(image)
            # 4 decimals: these boxes/keypoints are the inputs of the mesh and pose stages,
            # which a test rebuilds from here (2 would move the mesh crop rotation by ~0.02°).
            entry["centerface"] = [project_detection(f, FIVE_POINT_NAMES, 4) for f in faces]
            chosen = faces[:MAX_FACES]
            entry["face_mesh"] = [
                {"face": i, **record_mesh(landmarker, image, f)} for i, f in enumerate(chosen)
            ]
            entry["pose_per_face"] = [
                {"face": i, **pose_rec.per_face(image, f)} for i, f in enumerate(chosen)
            ]
            entry["pose_whole_image"] = pose_rec.whole_image(image)
            inputs.append(entry)
            print(
                f"{meta['id']}: centerface {len(faces)}, mp-full "
                f"{len(entry['face_detection']['mediapipe-full']['project']['detections'])}"
                f"/{len(entry['face_detection']['mediapipe-full']['raw']['detections'])}, "
                f"poses {sum(p['found'] for p in entry['pose_per_face'])}, "
                f"whole pose {entry['pose_whole_image'] is not None}",
                file=sys.stderr,
            )
    finally:
        faces_rec.close()
        pose_rec.close()
    doc["debug_graph_max_landmark_diff_px"] = r4(pose_rec.max_debug_diff)
    doc["inputs"] = inputs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(doc)
    if json.loads(text) != doc:
        raise AssertionError("compact JSON formatting changed the content")
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(text) / 1024:.0f} KiB, {len(inputs)} inputs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
