from __future__ import annotations

import dataclasses

import av
import numpy as np
import pytest

from personframes.analyze.body_pose import (
    LEGS_NOT_VISIBLE,
    Leg3D,
    SideAngles,
    analyze_body_pose,
    carry_poses,
    classify_3d,
    classify_angles,
)
from personframes.analyze.shot_type import classify_shot_type
from personframes.config import PoseConfig
from personframes.detect.pose import PoseEstimator, body_region
from personframes.errors import ModelError
from personframes.types import Box

from .util import VIDEOS

CFG = PoseConfig()


def decode(video: str, *indices: int) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    with av.open(str(VIDEOS / video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in indices:
                out[i] = frame.to_ndarray(format="rgb24")
            if i >= max(indices):
                break
    return out


def both(hip: float, knee: float | None) -> tuple[SideAngles, ...]:
    return (SideAngles("left", hip, knee), SideAngles("right", hip, knee))


@pytest.mark.parametrize(
    ("sides", "torso", "expected"),
    [
        (both(175, 175), 5.0, "standing"),
        ((SideAngles("left", 170, 130), SideAngles("right", 172, 175)), 3.0, "standing"),  # stride
        (both(170, None), 2.0, "standing"),  # ankles out of view
        (both(95, 95), 5.0, "sitting"),  # chair
        (both(55, 100), 5.0, "sitting"),  # knees drawn up, legs not folded
        (both(45, 50), 10.0, "squatting"),
        ((SideAngles("left", 45, 50), SideAngles("right", 95, 95)), 10.0, "sitting"),
        (both(175, 175), 80.0, "lying"),
        ((), 5.0, "unknown"),
        (both(140, 170), 5.0, "unknown"),  # between classes
    ],
)
def test_angle_table(sides: tuple[SideAngles, ...], torso: float, expected: str) -> None:
    pose, reason = classify_angles(sides, torso, CFG)
    assert pose == expected
    assert reason


def test_thresholds_come_from_config() -> None:
    strict = PoseConfig(standing_min_angle=178.0)
    assert classify_angles(both(175, 175), 5.0, CFG)[0] == "standing"
    assert classify_angles(both(175, 175), 5.0, strict)[0] != "standing"


def test_no_pose_is_unknown_with_reason() -> None:
    result = analyze_body_pose(None, CFG)
    assert result.pose == "unknown"
    assert "no body" in result.reason


def test_only_bundled_complexity() -> None:
    with pytest.raises(ModelError, match="not bundled"):
        PoseEstimator(model_complexity=2)


@pytest.fixture(scope="module")
def estimator():  # type: ignore[no-untyped-def]
    with PoseEstimator() as pose:
        yield pose


def test_sitting_and_standing_frames(estimator: PoseEstimator) -> None:
    # sitting_window: frame 30 sitting (face 376,570,57,73), frame 375 walking (287,288,77,105).
    frames = decode("sitting_window.mp4", 30, 375)
    faces = {30: Box(376, 570, 433, 643), 375: Box(287, 288, 364, 393)}
    results = {}
    for index, face in faces.items():
        image = frames[index]
        region = body_region(face, image.shape[1], image.shape[0])
        pose = estimator.detect(image, region)
        assert pose is not None and len(pose.landmarks) == 33
        # Full-frame coordinates: the nose lies near the labelled face.
        assert abs(pose["nose"].x - face.center[0]) < face.width
        results[index] = analyze_body_pose(pose, CFG)
        shot = classify_shot_type(face, image.shape[1], image.shape[0], pose)
        assert shot.shot_type == "full_body", shot.reason
    assert results[30].pose == "sitting", results[30].reason
    assert results[375].pose == "standing", results[375].reason


def leg(
    thigh: float, knee: float | None, height: float | None, hip: float = 170.0, side: str = "left"
) -> Leg3D:
    return Leg3D(side, hip, thigh, knee, height)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("legs", "torso", "expected"),
    [
        ((leg(5, 175, 0.98), leg(8, 170, 0.97, side="right")), 5.0, "standing"),
        ((leg(32, 116, 0.83),), 8.0, "standing"),  # one leg seen, stepping: hip held up
        ((leg(16, 143, 0.95), leg(53, 122, 0.77, side="right")), 30.0, "standing"),  # rising
        ((leg(8, None, None, hip=175),), 10.0, "standing"),  # ankles out of view
        ((leg(95, 90, 0.4, hip=90),), 5.0, "sitting"),  # chair: thigh level, hips up
        ((leg(125, 100, 0.05, hip=55),), 5.0, "sitting"),  # floor or sill, knees up
        ((leg(110, 45, 0.15, hip=40), leg(115, 50, 0.2, side="right")), 20.0, "squatting"),
        ((leg(110, 45, 0.15, hip=40), leg(95, 95, 0.4, side="right")), 20.0, "sitting"),
        ((leg(40, 150, 0.7),), 5.0, "unknown"),  # neither upright nor seated
        ((leg(60, None, None, hip=120),), 5.0, "sitting"),  # thigh raised, no ankle
        ((leg(40, None, None, hip=140),), 5.0, "unknown"),
        ((leg(5, 175, 0.98),), 80.0, "lying"),
        ((), 5.0, "unknown"),
    ],
)
def test_3d_table(legs: tuple[Leg3D, ...], torso: float, expected: str) -> None:
    pose, reason = classify_3d(legs, torso)
    assert pose == expected, reason
    assert reason


def test_3d_first_2d_without_world_landmarks(estimator: PoseEstimator) -> None:
    frames = decode("sitting_window.mp4", 30)
    face = Box(376, 570, 433, 643)
    image = frames[30]
    pose = estimator.detect(image, body_region(face, image.shape[1], image.shape[0]))
    assert pose is not None and pose.world_landmarks
    three_d = analyze_body_pose(pose, CFG)
    assert (three_d.pose, three_d.method) == ("sitting", "3d") and three_d.legs
    flat = analyze_body_pose(dataclasses.replace(pose, world_landmarks=()), CFG)
    assert flat.method == "2d" and flat.sides and not flat.legs


def test_waist_up_takes_the_same_persons_pose_nearby() -> None:
    legs_hidden = LEGS_NOT_VISIBLE
    sightings = [
        (1.0, 1, "standing", "a leg holds the hip up"),
        (4.0, 1, "unknown", legs_hidden),  # waist-up, 3 s later: standing
        (40.0, 1, "unknown", legs_hidden),  # too far from any sighting with legs
        (4.0, 2, "unknown", legs_hidden),  # another person: nothing to take
        (5.0, 1, "unknown", "no body landmarks found"),  # not a waist-up shot
        (20.0, 1, "sitting", "thigh raised"),
        (20.5, 1, "unknown", legs_hidden),  # the nearest one wins
    ]
    assert carry_poses(sightings) == [
        ("standing", None),
        ("standing", 1.0),
        ("unknown", None),
        ("unknown", None),
        ("unknown", None),
        ("sitting", None),
        ("sitting", 20.0),
    ]
