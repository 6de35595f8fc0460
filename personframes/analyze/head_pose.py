"""Head pose (yaw, pitch, roll) and its 9-way direction class.

Conventions (AS SEEN BY THE VIEWER, the labels' convention):
- yaw < 0: the face points toward the image's LEFT edge ("looking_left",
  "profile_left"); yaw > 0: toward the right edge. 0 = facing the camera.
- pitch > 0: looking up; pitch < 0: looking down.
- roll: angle of the eye line in the image, > 0 when the line slopes down
  to the right (the head tilts clockwise as seen by the viewer).

Two methods, recorded in ``HeadPose.method``:
- ``"mesh"``: mediapipe's 468-point face mesh (its 3D output) on the face
  crop; the head's axes are read from the mesh itself: x from the outer eye
  corners, y from forehead to chin, the face normal as their cross product.
  This replaced a solvePnP fit against a generic 6-point 3D model, which on
  the labelled frames flipped to a mirrored solution (roll near 180 degrees)
  on 7 of 44 faces and put frontal faces up to 50 degrees off, because a
  generic model's points do not match the mesh's landmark definitions.
- ``"keypoints"``: the fallback when the mesh is unreliable (its face-presence
  score is below ``min_presence``, typical for profiles, where the mesh model
  was trained on faces it can see both eyes of). Yaw from the detector's eye
  and nose keypoints: the nose tip sits about ``NOSE_DEPTH_RATIO`` of the
  eye distance in front of the eyes, so tan(yaw) = nose offset from the
  eye midpoint / eye distance / ratio. Pitch is not measured (None) and is
  treated as level; the reason says so. Each fallback is logged.

Direction classes (thresholds from HeadAngleConfig):
front, looking_left, looking_right, profile_left, profile_right, looking_up,
looking_down, looking_up_left, looking_up_right; ``unknown`` (with a reason)
when |roll| > max_roll or no estimate could be made. There is no down-left
class: down combined with a sideways turn goes to whichever component is
further past its threshold.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from ..config import HeadAngleConfig
from ..detect.face_landmarks import FaceLandmarker, FaceLandmarks
from ..types import FaceDetection, Image

log = logging.getLogger(__name__)

HeadDirection = Literal[
    "front",
    "looking_left",
    "looking_right",
    "profile_left",
    "profile_right",
    "looking_up",
    "looking_down",
    "looking_up_left",
    "looking_up_right",
    "unknown",
]
HEAD_DIRECTIONS: tuple[HeadDirection, ...] = get_args(HeadDirection)
HeadPoseMethod = Literal["mesh", "keypoints", "none"]

# Eye distance (pupils, about 63 mm) over nose-tip depth in front of the eyes
# (about 35 mm): anthropometric averages, not fitted to the labels.
NOSE_DEPTH_RATIO = 63.0 / 35.0
# Pupil distance over face width (about 140 mm) for a frontal face; below
# _EYES_APART of the box width the eyes count as collapsed (yaw beyond ~55).
_FRONTAL_EYES = 0.45
_EYES_APART = 0.25

# Neighbours on the direction grid (for "within one class" accuracy).
_GRID: dict[HeadDirection, tuple[int, int]] = {
    "profile_left": (-2, 0),
    "looking_left": (-1, 0),
    "front": (0, 0),
    "looking_right": (1, 0),
    "profile_right": (2, 0),
    "looking_up_left": (-1, 1),
    "looking_up": (0, 1),
    "looking_up_right": (1, 1),
    "looking_down": (0, -1),
}


@dataclass(frozen=True)
class HeadPose:
    """Head angles in degrees (viewer's convention, see module doc) and class."""

    direction: HeadDirection
    yaw: float | None
    pitch: float | None
    roll: float | None
    method: HeadPoseMethod
    reason: str
    confidence: float = 0.0  # mesh presence score, or detector score for keypoints


def are_neighbours(a: str, b: str) -> bool:
    """True when two direction classes are equal or adjacent on the yaw/pitch grid."""
    if a == b:
        return True
    pa, pb = _GRID.get(a), _GRID.get(b)  # type: ignore[call-overload]
    if pa is None or pb is None:
        return False
    return abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1


def classify_direction(
    yaw: float, pitch: float | None, roll: float | None, config: HeadAngleConfig
) -> tuple[HeadDirection, str]:
    """The 9-way direction class for yaw/pitch/roll, with the reason."""
    if roll is not None and abs(roll) > config.max_roll:
        return "unknown", f"roll {roll:.0f} beyond {config.max_roll:.0f}"
    side = "left" if yaw < 0 else "right"
    ayaw = abs(yaw)
    p = 0.0 if pitch is None else pitch
    angles = f"yaw {yaw:.0f}, pitch {'?' if pitch is None else f'{pitch:.0f}'}"
    if ayaw > config.yaw_profile:
        return f"profile_{side}", angles  # type: ignore[return-value]
    turned = ayaw > config.yaw_looking
    if p > config.pitch_threshold:
        return (f"looking_up_{side}" if turned else "looking_up"), angles  # type: ignore[return-value]
    if p < -config.pitch_threshold:
        if turned and ayaw - config.yaw_looking > -p - config.pitch_threshold:
            return f"looking_{side}", angles + " (sideways dominates down)"  # type: ignore[return-value]
        return "looking_down", angles
    if turned:
        return f"looking_{side}", angles  # type: ignore[return-value]
    return "front", angles


def angles_from_mesh(landmarks: FaceLandmarks) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the mesh's 3D landmarks."""
    p = landmarks.points.astype(np.float64)
    x_axis = p[263] - p[33]  # viewer's left eye corner -> right eye corner
    y_axis = p[152] - p[10]  # forehead -> chin (image y points down)
    x_axis /= np.linalg.norm(x_axis)
    normal = np.cross(y_axis, x_axis)  # points out of the face, toward the camera (-z)
    normal /= np.linalg.norm(normal)
    yaw = math.degrees(math.atan2(normal[0], -normal[2]))
    pitch = math.degrees(math.atan2(-normal[1], math.hypot(normal[0], normal[2])))
    roll = math.degrees(math.atan2(x_axis[1], x_axis[0]))
    return yaw, pitch, roll


def angles_from_keypoints(face: FaceDetection) -> tuple[float, float | None] | None:
    """(yaw, roll) in degrees from eye and nose keypoints, or None if missing.

    With the eyes well apart (at least ``_EYES_APART`` of the box width) yaw
    comes from the nose offset along the eye line and roll from the eye line.
    With the eyes collapsed together (a profile: the far eye is hidden and
    the detector guesses it) the eye line means nothing: roll is None, the
    yaw magnitude is acos(eye distance / frontal eye distance) with the
    frontal distance ``_FRONTAL_EYES`` of the box width, and its sign comes
    from which side of the box centre the nose tip sits.
    """
    kp = face.keypoints
    if not all(name in kp for name in ("left_eye", "right_eye", "nose")):
        return None
    (lx, ly), (rx, ry), (nx, ny) = kp["left_eye"], kp["right_eye"], kp["nose"]
    dx, dy = rx - lx, ry - ly
    eye_dist = math.hypot(dx, dy)
    width = max(face.box.width, 1e-6)
    if eye_dist >= _EYES_APART * width and dx > 0:
        ux, uy = dx / eye_dist, dy / eye_dist
        offset = (nx - (lx + rx) / 2) * ux + (ny - (ly + ry) / 2) * uy
        yaw = math.degrees(math.atan2(offset * NOSE_DEPTH_RATIO, eye_dist))
        return yaw, math.degrees(math.atan2(dy, dx))
    magnitude = math.degrees(math.acos(min(1.0, eye_dist / (_FRONTAL_EYES * width))))
    sign = -1.0 if nx < face.box.center[0] else 1.0
    return sign * magnitude, None


class HeadPoseEstimator:
    """Head pose of one detected face per call."""

    def __init__(
        self,
        config: HeadAngleConfig,
        landmarker: FaceLandmarker | None = None,
        min_presence: float = 0.5,
    ) -> None:
        self.config = config
        self.landmarker = landmarker if landmarker is not None else FaceLandmarker()
        self.min_presence = min_presence

    def estimate(self, image: Image, face: FaceDetection) -> HeadPose:
        mesh = self.landmarker.detect(image, face)
        if mesh.presence >= self.min_presence:
            yaw, pitch, roll = angles_from_mesh(mesh)
            direction, reason = classify_direction(yaw, pitch, roll, self.config)
            return HeadPose(direction, yaw, pitch, roll, "mesh", reason, mesh.presence)
        fallback = angles_from_keypoints(face)
        if fallback is None:
            return HeadPose(
                "unknown",
                None,
                None,
                None,
                "none",
                f"face mesh unreliable (presence {mesh.presence:.2f}) and no eye/nose keypoints",
            )
        kp_yaw, kp_roll = fallback
        log.debug(
            "head pose: mesh presence %.2f < %.2f at %s, falling back to keypoints",
            mesh.presence,
            self.min_presence,
            face.box.as_xywh(),
        )
        direction, reason = classify_direction(kp_yaw, None, kp_roll, self.config)
        reason = (
            f"{reason}; keypoint fallback (mesh presence {mesh.presence:.2f}), pitch not measured"
        )
        return HeadPose(direction, kp_yaw, None, kp_roll, "keypoints", reason, face.score)
