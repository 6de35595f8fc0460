"""468 face landmarks on a face crop (mediapipe's ``face_landmark.tflite``, on LiteRT).

The model file is bundled with personframes (``personframes/models/bundled/``), so
nothing is downloaded. It runs on LiteRT directly on a square crop around a detected
face. That skips the short-range face detector that ``mp.solutions.face_mesh`` runs
first, which rejects most profile faces (measured on the labelled frames: 0 of 16 left
profiles got landmarks through FaceMesh; the landmark model itself still fits them).

The crop is rotated upright from the detector's eye keypoints when they are
plausible (as mediapipe does), so moderate head roll does not hurt the fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..models.cache import model_file
from ..types import Box, FaceDetection, Image
from ._litert import DEFAULT_THREADS, load_interpreter, output_index

MODEL_ID = "face-mesh"  # catalogue id (face_landmark.tflite, bundled)
NUM_POINTS = 468

# A few named indices of the 468-point mesh. "left"/"right" are as seen by the
# viewer (image left / image right), like FaceDetection keypoints.
MESH_INDEX: dict[str, int] = {
    "nose_tip": 1,
    "chin": 152,
    "forehead": 10,
    "left_eye_outer": 33,
    "left_eye_inner": 133,
    "right_eye_inner": 362,
    "right_eye_outer": 263,
    "mouth_left": 61,
    "mouth_right": 291,
    "left_cheek": 234,
    "right_cheek": 454,
}


@dataclass(frozen=True)
class FaceLandmarks:
    """468 landmarks of one face.

    ``points`` is (468, 3) float32: x, y in full-frame pixels and z a relative
    depth in the same pixel scale (smaller = nearer the camera), as the model
    predicts it. ``presence`` is the model's face-presence probability (0..1).
    ``crop`` is the square region (before rotation) the model saw, ``rotation``
    the angle in degrees the crop was turned to make the eyes level.
    """

    points: npt.NDArray[np.float32]
    presence: float
    crop: Box
    rotation: float = 0.0

    def point(self, name: str) -> tuple[float, float]:
        x, y = self.points[MESH_INDEX[name], :2]
        return float(x), float(y)


class FaceLandmarker:
    """Fits the 468-point face mesh on one face region per call."""

    NAME = "mediapipe-face-landmark"
    INPUT_SIZE = 192

    def __init__(
        self,
        model_path: Path | None = None,
        crop_scale: float = 1.6,
        num_threads: int = DEFAULT_THREADS,
    ) -> None:
        self.model_path = model_path if model_path is not None else model_file(MODEL_ID)
        self._interpreter: Any = load_interpreter(self.model_path, self.NAME, num_threads)
        self._input = int(self._interpreter.get_input_details()[0]["index"])
        self._mesh = output_index(self._interpreter, NUM_POINTS * 3, self.NAME)
        self._flag = output_index(self._interpreter, 1, self.NAME)
        self.crop_scale = crop_scale

    def detect(self, image: Image, face: FaceDetection | Box) -> FaceLandmarks:
        """Landmarks for the face in ``face`` (a detection or a face box)."""
        box = face.box if isinstance(face, FaceDetection) else face
        angle = _eye_angle(face) if isinstance(face, FaceDetection) else 0.0
        cx, cy = box.center
        side = max(box.width, box.height) * self.crop_scale
        size = self.INPUT_SIZE
        # Affine map: full frame -> model input (rotate about the face centre,
        # scale the crop side to the input size, move the centre to the middle).
        scale = size / side
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        matrix[0, 2] += size / 2 - cx
        matrix[1, 2] += size / 2 - cy
        warped = cv2.warpAffine(
            image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        patch = np.asarray(warped, dtype=np.uint8)  # uint8 like the input: no copy
        mesh, flag = self._infer(patch)
        presence = 1.0 / (1.0 + math.exp(-min(max(flag, -100.0), 100.0)))
        inverse = cv2.invertAffineTransform(matrix)
        xy = mesh[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        z = mesh[:, 2] / scale
        points = np.column_stack([xy, z]).astype(np.float32)
        crop = Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        return FaceLandmarks(points=points, presence=presence, crop=crop, rotation=angle)

    def _infer(self, patch: Image) -> tuple[npt.NDArray[np.float64], float]:
        """The model on one RGB crop: (468, 3) points in input px, and the face-flag logit."""
        tensor = patch.astype(np.float32)[None] / np.float32(255.0)  # 1 x H x W x 3, 0..1
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        flag = float(self._interpreter.get_tensor(self._flag).ravel()[0])
        mesh = self._interpreter.get_tensor(self._mesh).reshape(NUM_POINTS, 3)
        return mesh.astype(np.float64), flag


def _eye_angle(face: FaceDetection) -> float:
    """Angle (degrees, cv2 convention) that levels the eyes, 0 when implausible."""
    left = face.keypoints.get("left_eye")
    right = face.keypoints.get("right_eye")
    if left is None or right is None:
        return 0.0
    dx, dy = right[0] - left[0], right[1] - left[1]
    # Eyes closer than a fifth of the box width: a profile, the line is noise.
    if math.hypot(dx, dy) < 0.2 * face.box.width or dx <= 0:
        return 0.0
    angle = math.degrees(math.atan2(dy, dx))
    return angle if abs(angle) <= 45.0 else 0.0
