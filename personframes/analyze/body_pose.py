"""Body pose class from 33 body landmarks: standing, sitting, squatting, lying.

Angles are 2D joint angles in the image, in degrees (180 = straight):
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

Known limit: sitting with the knees drawn up to the chest and squatting have
the same 2D joint angles; without a support surface they cannot be told apart
here and fall to squatting when both legs are folded below the thresholds.
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
LYING_TORSO_ANGLE = 60.0  # degrees from vertical beyond which the torso counts as lying


@dataclass(frozen=True)
class SideAngles:
    """Joint angles of one leg (None where a landmark was not visible)."""

    side: Literal["left", "right"]
    hip: float
    knee: float | None


@dataclass(frozen=True)
class BodyPoseResult:
    """The pose class of one person and the measurements behind it."""

    pose: PoseClass
    reason: str
    sides: tuple[SideAngles, ...] = ()
    torso_angle: float | None = None  # degrees from vertical, 0 = upright


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
        return "unknown", "hips and knees not visible enough"
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


def analyze_body_pose(pose: BodyPose | None, config: PoseConfig) -> BodyPoseResult:
    """Classify one person's body pose."""
    if pose is None:
        return BodyPoseResult("unknown", "no body landmarks found")
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
    return BodyPoseResult(pose_class, reason, tuple(sides), torso)
