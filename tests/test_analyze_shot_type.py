from __future__ import annotations

import pytest

from personframes.analyze.shot_type import classify_shot_type
from personframes.detect.pose import POSE_LANDMARK_NAMES, BodyPose, Landmark
from personframes.types import Box

W, H = 640, 360


def skeleton(points: dict[str, tuple[float, float]], hidden: set[str] = frozenset()) -> BodyPose:  # type: ignore[assignment]
    """A pose with the named landmarks at the given places (others hidden)."""
    landmarks = tuple(
        Landmark(
            *points.get(name, (0.0, 0.0)),
            0.0,
            0.9 if name in points and name not in hidden else 0.0,
        )
        for name in POSE_LANDMARK_NAMES
    )
    return BodyPose(landmarks, Box(0, 0, W, H))


def standing(scale: float, top: float) -> dict[str, tuple[float, float]]:
    """A standing person, head at ``top``, ``scale`` px per head height."""
    y = {"shoulder": 1.5, "hip": 4.0, "knee": 5.7, "ankle": 7.4}
    out = {}
    for side, dx in (("left", 1.2), ("right", -1.2)):
        for part, level in y.items():
            out[f"{side}_{part}"] = (320 + dx * scale, top + level * scale)
    return out


@pytest.mark.parametrize(
    ("face", "expected"),
    [
        (Box(120, 0, 520, 360), "extreme_closeup"),  # 62 % of the frame
        (Box(220, 30, 420, 260), "closeup"),  # 20 %
        (Box(250, 40, 400, 200), "medium_closeup"),  # 10 %, no body
        (Box(270, 60, 370, 190), "medium_shot"),  # 5.6 %, no body
        (Box(300, 60, 345, 110), "wide_shot"),  # 1 %, no body
    ],
)
def test_face_area_without_body(face: Box, expected: str) -> None:
    assert classify_shot_type(face, W, H).shot_type == expected


def test_frame_ending_at_the_chin_is_a_closeup_without_body() -> None:
    # 7.3 % of the frame (medium shot by face area), but the frame ends 0.1 face
    # heights below the chin: no chest in view.
    result = classify_shot_type(Box(250, 200, 370, 340), W, H)
    assert result.shot_type == "closeup", result.reason
    # The same face higher up, the chest in view: the face-area rule decides.
    assert classify_shot_type(Box(250, 40, 370, 180), W, H).shot_type == "medium_shot"


def test_body_decides_full_body_and_wide_shot() -> None:
    big = standing(scale=44, top=10)  # 7.4 heads = 336 px: fits the frame
    face = Box(300, 10, 340, 54)
    assert classify_shot_type(face, W, H, skeleton(big)).shot_type == "full_body"
    small = standing(scale=10, top=200)
    tiny = Box(315, 200, 325, 210)
    assert classify_shot_type(tiny, W, H, skeleton(small)).shot_type == "wide_shot"


def test_body_cut_by_the_frame() -> None:
    face = Box(290, 20, 350, 90)
    # Knees in view, ankles below the frame: medium shot.
    pts = standing(scale=60, top=20)
    result = classify_shot_type(face, W, H, skeleton(pts, hidden={"left_ankle", "right_ankle"}))
    assert result.shot_type == "medium_shot"
    # Only shoulders visible; hips predicted far below the frame: chest up or closer.
    pts = standing(scale=140, top=0)
    hidden = {f"{s}_{p}" for s in ("left", "right") for p in ("hip", "knee", "ankle")}
    result = classify_shot_type(Box(250, 0, 390, 140), W, H, skeleton(pts, hidden))
    assert result.shot_type in ("closeup", "medium_closeup"), result.reason


def test_no_face_no_body_is_unknown() -> None:
    assert classify_shot_type(None, W, H).shot_type == "unknown"
