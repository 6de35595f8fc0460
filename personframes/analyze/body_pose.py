"""Body pose class from 33 body landmarks: standing, sitting, squatting, lying.

From 3D first. BlazePose's world landmarks are metres around the hips, with y down
the image's vertical, so for each leg whose hip, knee and ankle are visible the
classifier sees, without the camera angle's foreshortening:

- ``thigh_down``: the angle between the thigh (hip to knee) and straight down
  (0: hanging, 90: level, over 90: knee above the hip);
- ``knee``: the 3D knee angle (180: straight);
- ``hip_height``: how high the hip is above the ankle, as a fraction of the leg's
  length (1: straight up; 0: hips down at the feet).

Rules (3D), first match wins:
1. lying: the torso (hips to shoulders) more than ``LYING_TORSO_ANGLE`` from vertical.
2. standing: a leg holds the hip up (thigh within ``STANDING_THIGH`` of straight down
   and the hip over ``STANDING_HIP_HEIGHT`` of the leg above the ankle) and no thigh is
   raised to level: the body is upright, whatever a knee does in a stride or a step
   (a seated or crouching body has its hips low or its thighs level, a kneeling one
   its hips about half a leg up). Without a visible ankle, a thigh hanging straight
   and a straight hip suffice.
3. squatting: every leg deeply folded (knee under ``SQUAT_KNEE``) with the hips down
   by the heels (``hip_height`` under ``SQUAT_HIP_HEIGHT``): the weight is on the feet.
4. sitting: a thigh raised to level or above (``SITTING_THIGH``) that is not a squat:
   on a chair (hips well above the feet) or on the floor with the knees up (hips at
   the feet, knees open).
5. otherwise ``unknown`` with the measurements in the reason.

Without world landmarks (a pose from an estimator that has none) the 2D rules below
decide, and the result says so (``method="2d"``: a counted fallback).

2D angles are joint angles in the image, in degrees (180 = straight):
- hip angle: shoulder-hip-knee (how far the thigh folds toward the torso);
- knee angle: hip-knee-ankle.
A side (the person's left or right leg) is used only when its shoulder, hip
and knee reach ``PoseConfig.min_visibility``; its knee angle only when the
ankle does too.

Rules, first match wins (thresholds from Person From Vid, via PoseConfig):
1. lying: the shoulder-to-hip line is nearer horizontal than vertical
   (more than ``LYING_TORSO_ANGLE`` from vertical).
2. standing: hip angle >= ``standing_min_angle`` on every usable side and
   knee angle >= ``standing_min_angle`` on at least one (a walking stride
   bends one knee). Without any visible ankle, straight hips alone decide.
3. squatting: knee angle < ``squatting_max_angle`` and hip angle <
   ``sitting_min_angle`` on every usable side (both legs deeply folded).
4. sitting: a hip angle within [``sitting_min_angle``, ``sitting_max_angle``],
   or below it with the knee not deeply folded (knees drawn up).
5. otherwise ``unknown``, with the angles in the reason.

``unknown`` is returned, with the reason, when no pose was found or the hips
and knees are not visible enough; it is never a silent default.

Known limit (2D): sitting with the knees drawn up to the chest and squatting have
the same 2D joint angles. In 3D a crouch with the hips a third of the leg above the
feet (rising from a seat) still looks like sitting, and legs hidden under a table
are guessed by the model with middling visibility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from ..config import PoseConfig
from ..detect.pose import BodyPose, Landmark

PoseClass = Literal["standing", "sitting", "squatting", "lying", "unknown"]
POSE_CLASSES: tuple[PoseClass, ...] = get_args(PoseClass)
_SIDES: tuple[Literal["left", "right"], ...] = ("left", "right")
LEGS_NOT_VISIBLE = "hips and knees not visible enough"
LYING_TORSO_ANGLE = 60.0  # degrees from vertical beyond which the torso counts as lying
# 3D rules (see the module doc): angles in degrees, heights as a fraction of the leg.
STANDING_THIGH = 35.0
STANDING_HIP_HEIGHT = 0.8
STANDING_HIP = 150.0  # without an ankle: the hip's own angle
SITTING_THIGH = 60.0
SQUAT_KNEE = 75.0
SQUAT_HIP_HEIGHT = 0.3


@dataclass(frozen=True)
class SideAngles:
    """Joint angles of one leg (None where a landmark was not visible)."""

    side: Literal["left", "right"]
    hip: float
    knee: float | None


@dataclass(frozen=True)
class Leg3D:
    """One leg in 3D (see the module doc); ``knee`` and ``hip_height`` need the ankle."""

    side: Literal["left", "right"]
    hip: float
    thigh_down: float
    knee: float | None
    hip_height: float | None

    def describe(self) -> str:
        text = f"{self.side} thigh {self.thigh_down:.0f} hip {self.hip:.0f}"
        if self.knee is not None and self.hip_height is not None:
            text += f" knee {self.knee:.0f} height {self.hip_height:.2f}"
        return text


@dataclass(frozen=True)
class BodyPoseResult:
    """The pose class of one person and the measurements behind it."""

    pose: PoseClass
    reason: str
    sides: tuple[SideAngles, ...] = ()
    torso_angle: float | None = None  # degrees from vertical, 0 = upright
    method: Literal["3d", "2d", "none"] = "none"
    legs: tuple[Leg3D, ...] = ()


def joint_angle(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    """Angle ABC at vertex b in degrees (0..180)."""
    v1 = (a[0] - b[0], a[1] - b[1])
    v2 = (c[0] - b[0], c[1] - b[1])
    n1, n2 = math.hypot(*v1), math.hypot(*v2)
    if n1 == 0 or n2 == 0:
        return 180.0
    cos = (v1[0] * v2[0] + v1[1] * v2[1]) / (n1 * n2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _xy(lm: Landmark) -> tuple[float, float]:
    return (lm.x, lm.y)


def classify_angles(
    sides: tuple[SideAngles, ...], torso_angle: float | None, config: PoseConfig
) -> tuple[PoseClass, str]:
    """Pose class and reason from measured angles (the rules in the module doc)."""
    if torso_angle is not None and torso_angle > LYING_TORSO_ANGLE:
        return "lying", f"torso {torso_angle:.0f} deg from vertical"
    if not sides:
        return "unknown", LEGS_NOT_VISIBLE
    desc = ", ".join(
        f"{s.side} hip {s.hip:.0f}" + (f" knee {s.knee:.0f}" if s.knee is not None else " knee ?")
        for s in sides
    )
    knees = [s.knee for s in sides if s.knee is not None]
    stand = config.standing_min_angle
    if all(s.hip >= stand for s in sides):
        if any(k >= stand for k in knees):
            return "standing", f"straight hips and knee ({desc})"
        if not knees:
            return "standing", f"straight hips, ankles not visible ({desc})"
    if (
        knees
        and len(knees) == len(sides)
        and all(
            s.knee is not None
            and s.knee < config.squatting_max_angle
            and s.hip < config.sitting_min_angle
            for s in sides
        )
    ):
        return "squatting", f"knees and hips deeply folded ({desc})"
    if any(config.sitting_min_angle <= s.hip <= config.sitting_max_angle for s in sides):
        return "sitting", f"hip angle in sitting range ({desc})"
    if any(
        s.hip < config.sitting_min_angle
        and (s.knee is None or s.knee >= config.squatting_max_angle)
        for s in sides
    ):
        return "sitting", f"thighs raised, knees not folded ({desc})"
    return "unknown", f"angles match no class ({desc})"


Vec = tuple[float, float, float]


def _angle3(a: Vec, b: Vec, c: Vec) -> float:
    """Angle ABC at vertex b in degrees (0..180), in 3D."""
    v1 = [a[i] - b[i] for i in range(3)]
    v2 = [c[i] - b[i] for i in range(3)]
    n1, n2 = math.sqrt(sum(v * v for v in v1)), math.sqrt(sum(v * v for v in v2))
    if n1 == 0 or n2 == 0:
        return 180.0
    cos = sum(v1[i] * v2[i] for i in range(3)) / (n1 * n2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _from_down(a: Vec, b: Vec) -> float:
    """Angle between the vector a->b and straight down (+y), in degrees."""
    v = [b[i] - a[i] for i in range(3)]
    norm = math.sqrt(sum(x * x for x in v))
    return 0.0 if norm == 0 else math.degrees(math.acos(max(-1.0, min(1.0, v[1] / norm))))


def legs_3d(pose: BodyPose, min_visibility: float) -> tuple[Leg3D, ...]:
    """The legs whose hip and knee are visible, measured from the world landmarks."""
    names = [lm for lm in ("shoulder", "hip", "knee", "ankle")]
    legs = []
    for side in _SIDES:
        parts = {n: f"{side}_{n}" for n in names}
        if min(pose[parts[n]].visibility for n in ("shoulder", "hip", "knee")) < min_visibility:
            continue
        w = {n: pose.world(parts[n]) for n in names}
        knee = hip_height = None
        if pose[parts["ankle"]].visibility >= min_visibility:
            knee = _angle3(w["hip"], w["knee"], w["ankle"])
            length = math.dist(w["hip"], w["knee"]) + math.dist(w["knee"], w["ankle"])
            hip_height = (w["ankle"][1] - w["hip"][1]) / length if length > 0 else None
        hip = _angle3(w["shoulder"], w["hip"], w["knee"])
        legs.append(Leg3D(side, hip, _from_down(w["hip"], w["knee"]), knee, hip_height))
    return tuple(legs)


def classify_3d(legs: tuple[Leg3D, ...], torso_angle: float | None) -> tuple[PoseClass, str]:
    """Pose class and reason from 3D leg measurements (the rules in the module doc)."""
    if torso_angle is not None and torso_angle > LYING_TORSO_ANGLE:
        return "lying", f"torso {torso_angle:.0f} deg from vertical (3D)"
    if not legs:
        return "unknown", LEGS_NOT_VISIBLE
    desc = "; ".join(leg.describe() for leg in legs)
    full = [leg for leg in legs if leg.knee is not None and leg.hip_height is not None]
    raised = any(leg.thigh_down >= SITTING_THIGH for leg in legs)
    upright = any(
        leg.thigh_down <= STANDING_THIGH and (leg.hip_height or 0.0) >= STANDING_HIP_HEIGHT
        for leg in full
    )
    if upright and not raised:
        return "standing", f"a leg holds the hip up (3D: {desc})"
    if not full and not raised:
        if all(leg.thigh_down <= STANDING_THIGH and leg.hip >= STANDING_HIP for leg in legs):
            return "standing", f"thighs hanging straight, ankles not visible (3D: {desc})"
        return "unknown", f"ankles not visible and thighs not straight (3D: {desc})"
    if full and all(
        (leg.knee or 180.0) < SQUAT_KNEE and (leg.hip_height or 1.0) < SQUAT_HIP_HEIGHT
        for leg in full
    ):
        return "squatting", f"legs folded, hips down by the feet (3D: {desc})"
    if raised:
        return "sitting", f"thigh raised to level, not a squat (3D: {desc})"
    return "unknown", f"measurements match no class (3D: {desc})"


def analyze_body_pose(pose: BodyPose | None, config: PoseConfig) -> BodyPoseResult:
    """Classify one person's body pose: from 3D when the pose has world landmarks,
    else from 2D angles (``method`` says which)."""
    if pose is None:
        return BodyPoseResult("unknown", "no body landmarks found")
    if pose.world_landmarks:
        torso3d = None
        vis = config.min_visibility
        if all(pose[n].visibility >= vis for n in _TORSO):
            shoulder = _mean(pose.world("left_shoulder"), pose.world("right_shoulder"))
            hip = _mean(pose.world("left_hip"), pose.world("right_hip"))
            torso3d = 180.0 - _from_down(hip, shoulder)
        legs = legs_3d(pose, vis)
        pose_class, reason = classify_3d(legs, torso3d)
        return BodyPoseResult(pose_class, reason, torso_angle=torso3d, method="3d", legs=legs)
    return _analyze_2d(pose, config)


_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


def _mean(a: Vec, b: Vec) -> Vec:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2)


def _analyze_2d(pose: BodyPose, config: PoseConfig) -> BodyPoseResult:
    """The 2D rules (the fallback without world landmarks)."""
    vis = config.min_visibility
    torso: float | None = None
    shoulders = [pose[f"{s}_shoulder"] for s in ("left", "right")]
    hips = [pose[f"{s}_hip"] for s in ("left", "right")]
    if all(lm.visibility >= vis for lm in (*shoulders, *hips)):
        sx = (shoulders[0].x + shoulders[1].x) / 2
        sy = (shoulders[0].y + shoulders[1].y) / 2
        hx = (hips[0].x + hips[1].x) / 2
        hy = (hips[0].y + hips[1].y) / 2
        torso = math.degrees(math.atan2(abs(sx - hx), abs(hy - sy)))
    sides: list[SideAngles] = []
    for side in _SIDES:
        shoulder, hip, knee, ankle = (
            pose[f"{side}_{part}"] for part in ("shoulder", "hip", "knee", "ankle")
        )
        if min(shoulder.visibility, hip.visibility, knee.visibility) < vis:
            continue
        hip_angle = joint_angle(_xy(shoulder), _xy(hip), _xy(knee))
        knee_angle = (
            joint_angle(_xy(hip), _xy(knee), _xy(ankle)) if ankle.visibility >= vis else None
        )
        sides.append(SideAngles(side, hip_angle, knee_angle))
    pose_class, reason = classify_angles(tuple(sides), torso, config)
    return BodyPoseResult(pose_class, reason, tuple(sides), torso, method="2d")


# A person whose legs are out of view takes the class the same person has in the
# nearest frame at most this many seconds away where the legs are seen (see carry_poses).
CARRY_S = 10.0

Sighting = tuple[float, int, str, str]  # (time s, person id, pose class, reason)


def carry_poses(sightings: list[Sighting]) -> list[tuple[str, float | None]]:
    """Each sighting's pose class, and the time it was carried from (None: its own).

    Only a person whose hips and knees are out of view (a waist-up shot) takes a class
    from elsewhere: the nearest sighting of the same person within ``CARRY_S`` seconds
    that has one. Nothing else is inferred; without such a sighting it stays unknown.
    """
    known: dict[int, list[tuple[float, str]]] = {}
    for time_s, person, pose, _reason in sightings:
        if pose != "unknown":
            known.setdefault(person, []).append((time_s, pose))
    result: list[tuple[str, float | None]] = []
    for time_s, person, pose, reason in sightings:
        if pose == "unknown" and reason == LEGS_NOT_VISIBLE and person in known:
            when, carried = min(known[person], key=lambda k: abs(k[0] - time_s))
            if abs(when - time_s) <= CARRY_S:
                result.append((carried, when))
                continue
        result.append((pose, None))
    return result
