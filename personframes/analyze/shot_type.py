"""Shot type of one person: how much of them the frame shows.

Classes: extreme_closeup, closeup, medium_closeup, medium_shot, full_body,
wide_shot; ``unknown`` only when there is neither a face nor a body in view.

Rules, first match wins:
1. Face area / frame area >= ``EXTREME_CLOSEUP_RATIO`` (0.25): extreme_closeup;
   >= ``CLOSEUP_RATIO`` (0.15): closeup. These two are Person From Vid's
   face-area thresholds (``closeup_detector.py``).
2. With body landmarks, the lowest body part that is visible (visibility >=
   ``min_visibility``) and inside the frame decides:
   - ankles: the whole body is in view: full_body when the person's box
     (landmarks and face) covers >= ``FULL_BODY_MIN_AREA`` (10 %) of the frame,
     wide_shot when smaller (the labels' rule of thumb);
   - knees or hips: medium_shot (waist up; knees-up framing counts too);
   - shoulders only: where the frame's bottom edge cuts the torso, using
     the hips' predicted position (mediapipe predicts landmarks outside the
     frame too): at least ``WAIST_SHOWN`` (65 %) of the shoulder-to-hip
     length in view: medium_shot (waist up); at least ``CHEST_SHOWN`` (35 %):
     medium_closeup (chest up); less: closeup (head and shoulders).
3. Without body landmarks: when the frame ends less than ``CHEST_BELOW_CHIN``
   (1) face heights below the chin, closeup: the chest line sits about one
   head height below the chin and a face box is shorter than a head, so such
   a frame cannot show the chest (a profile cut by the frame's bottom edge,
   which the face-area rule called chest up). Otherwise Person From Vid's
   face-area thresholds: >= 0.08 medium_closeup, >= 0.03 medium_shot, else
   wide_shot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ..detect.pose import BodyPose
from ..types import Box

ShotType = Literal[
    "extreme_closeup",
    "closeup",
    "medium_closeup",
    "medium_shot",
    "full_body",
    "wide_shot",
    "unknown",
]
SHOT_TYPES: tuple[ShotType, ...] = get_args(ShotType)
EXTREME_CLOSEUP_RATIO = 0.25
CLOSEUP_RATIO = 0.15
MEDIUM_CLOSEUP_RATIO = 0.08
MEDIUM_SHOT_RATIO = 0.03
WAIST_SHOWN = 0.65  # the natural waist sits about 2/3 of the way from shoulders to hip joints
CHEST_SHOWN = 0.35
FULL_BODY_MIN_AREA = 0.10
CHEST_BELOW_CHIN = 1.0  # face heights from the chin to the chest line (at least)


@dataclass(frozen=True)
class ShotTypeResult:
    shot_type: ShotType
    reason: str
    face_ratio: float  # face box area / frame area
    body_ratio: float | None = None  # person box area / frame area, when the body is in view


def _inside(x: float, y: float, width: int, height: int) -> bool:
    return 0 <= x < width and 0 <= y < height


def classify_shot_type(
    face_box: Box | None,
    width: int,
    height: int,
    pose: BodyPose | None = None,
    min_visibility: float = 0.5,
) -> ShotTypeResult:
    """Shot type of one person in a ``width`` x ``height`` frame.

    ``face_box`` may be None (face turned away or hidden); the body landmarks
    then decide alone, and without either the result is ``unknown``.
    """
    frame_area = float(width * height)
    ratio = face_box.clip(width, height).area / frame_area if face_box is not None else 0.0
    if ratio >= EXTREME_CLOSEUP_RATIO:
        return ShotTypeResult("extreme_closeup", f"face covers {ratio:.0%} of the frame", ratio)
    if ratio >= CLOSEUP_RATIO:
        return ShotTypeResult("closeup", f"face covers {ratio:.0%} of the frame", ratio)
    if pose is not None:

        def seen(*names: str) -> bool:
            return all(
                pose[n].visibility >= min_visibility
                and _inside(pose[n].x, pose[n].y, width, height)
                for n in names
            )

        def either(part: str) -> bool:
            return seen(f"left_{part}") or seen(f"right_{part}")

        if either("ankle"):
            person = pose.box(min_visibility) or Box(0, 0, 0, 0)
            if face_box is not None:
                person = Box(
                    min(person.x1, face_box.x1),
                    min(person.y1, face_box.y1),
                    max(person.x2, face_box.x2),
                    max(person.y2, face_box.y2),
                )
            person = person.clip(width, height)
            body_ratio = person.area / frame_area
            if body_ratio >= FULL_BODY_MIN_AREA:
                return ShotTypeResult(
                    "full_body",
                    f"ankles in view, person covers {body_ratio:.0%}",
                    ratio,
                    body_ratio,
                )
            return ShotTypeResult(
                "wide_shot", f"ankles in view, person covers {body_ratio:.0%}", ratio, body_ratio
            )
        if either("knee") or either("hip"):
            return ShotTypeResult("medium_shot", "hips or knees in view, ankles not", ratio)
        if seen("left_shoulder", "right_shoulder"):
            # The skeleton is anchored by visible shoulders: read where the
            # frame cuts the torso from the hips' predicted position.
            shoulder_y = (pose["left_shoulder"].y + pose["right_shoulder"].y) / 2
            hip_y = (pose["left_hip"].y + pose["right_hip"].y) / 2
            torso = hip_y - shoulder_y
            shown = (height - shoulder_y) / torso if torso > 0 else 0.0
            if shown >= WAIST_SHOWN:
                return ShotTypeResult(
                    "medium_shot", f"frame shows {shown:.0%} of the torso (waist up)", ratio
                )
            if shown >= CHEST_SHOWN:
                return ShotTypeResult(
                    "medium_closeup", f"frame shows {shown:.0%} of the torso (chest up)", ratio
                )
            return ShotTypeResult(
                "closeup", f"frame shows {shown:.0%} of the torso (head and shoulders)", ratio
            )
    where = "no body landmarks" if pose is None else "no body part in view"
    if face_box is None:
        return ShotTypeResult("unknown", f"no face and {where}", 0.0)
    below = (height - face_box.y2) / face_box.height if face_box.height > 0 else 0.0
    if below < CHEST_BELOW_CHIN:
        return ShotTypeResult(
            "closeup", f"{where}; frame ends {below:.1f} face heights below the chin", ratio
        )
    if ratio >= MEDIUM_CLOSEUP_RATIO:
        return ShotTypeResult("medium_closeup", f"{where}; face covers {ratio:.1%}", ratio)
    if ratio >= MEDIUM_SHOT_RATIO:
        return ShotTypeResult("medium_shot", f"{where}; face covers {ratio:.1%}", ratio)
    return ShotTypeResult("wide_shot", f"{where}; face covers {ratio:.1%}", ratio)
