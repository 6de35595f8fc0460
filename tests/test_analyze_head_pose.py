from __future__ import annotations

import av
import numpy as np
import pytest

from personframes.analyze.head_pose import (
    HeadPoseEstimator,
    angles_from_keypoints,
    are_neighbours,
    classify_direction,
)
from personframes.config import HeadAngleConfig
from personframes.detect import create_face_detector
from personframes.detect.face_landmarks import FaceLandmarker
from personframes.types import Box, FaceDetection

from .util import VIDEOS

CFG = HeadAngleConfig()


def decode(video: str, index: int) -> np.ndarray:
    with av.open(str(VIDEOS / video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(index)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll", "expected"),
    [
        (0, 0, 0, "front"),
        (-20, 10, 0, "front"),
        (-30, 0, 0, "looking_left"),
        (30, 0, 0, "looking_right"),
        (-80, 0, 0, "profile_left"),
        (75, 30, 0, "profile_right"),
        (0, 30, 0, "looking_up"),
        (-40, 30, 0, "looking_up_left"),
        (40, 30, 0, "looking_up_right"),
        (0, -30, 0, "looking_down"),
        (-30, -40, 0, "looking_down"),  # down dominates
        (-60, -25, 0, "looking_left"),  # sideways dominates: there is no down-left class
        (0, 0, 45, "unknown"),
        (-30, None, None, "looking_left"),  # keypoint fallback: pitch not measured
    ],
)
def test_direction_table(
    yaw: float, pitch: float | None, roll: float | None, expected: str
) -> None:
    direction, reason = classify_direction(yaw, pitch, roll, CFG)
    assert direction == expected
    assert reason


def test_thresholds_come_from_config() -> None:
    wide = HeadAngleConfig(yaw_looking=40.0)
    assert classify_direction(-30, 0, 0, wide)[0] == "front"
    assert classify_direction(-30, 0, 0, CFG)[0] == "looking_left"


def test_neighbours() -> None:
    assert are_neighbours("front", "looking_left")
    assert are_neighbours("looking_left", "profile_left")
    assert are_neighbours("looking_up_left", "front")
    assert not are_neighbours("front", "profile_left")
    assert not are_neighbours("unknown", "front")


def _face(
    left_eye: tuple[float, float], right_eye: tuple[float, float], nose: tuple[float, float]
) -> FaceDetection:
    return FaceDetection(
        Box(0, 0, 100, 120), 0.9, {"left_eye": left_eye, "right_eye": right_eye, "nose": nose}
    )


def test_keypoint_yaw_signs_follow_the_viewer() -> None:
    frontal = angles_from_keypoints(_face((30, 50), (70, 50), (50, 75)))
    assert frontal is not None and abs(frontal[0]) < 1
    # Nose toward the image's left edge: the face points left (negative yaw).
    left = angles_from_keypoints(_face((30, 50), (70, 50), (38, 75)))
    assert left is not None and left[0] < -22.5
    right = angles_from_keypoints(_face((30, 50), (70, 50), (62, 75)))
    assert right is not None and right[0] > 22.5
    # Eyes collapsed together, nose at the left of the box: a left profile, no roll.
    profile = angles_from_keypoints(_face((20, 50), (26, 52), (5, 75)))
    assert profile is not None and profile[0] < -67.5 and profile[1] is None


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    return create_face_detector("centerface", confidence=0.4, max_side=640)


@pytest.fixture(scope="module")
def estimator() -> HeadPoseEstimator:
    return HeadPoseEstimator(CFG, FaceLandmarker())


def _main_face(detector, image: np.ndarray, centre: tuple[float, float]) -> FaceDetection:  # type: ignore[no-untyped-def]
    faces = [f for f in detector.detect(image) if f.box.contains(centre)]
    assert faces, "detector missed the labelled face"
    return faces[0]


def test_profile_left_frame_is_left(detector, estimator: HeadPoseEstimator) -> None:  # type: ignore[no-untyped-def]
    # sitting_window t0.0: left profile, face box 383,563,55,72 (labels).
    image = decode("sitting_window.mp4", 0)
    pose = estimator.estimate(image, _main_face(detector, image, (410, 599)))
    assert pose.direction in ("profile_left", "looking_left")
    assert pose.yaw is not None and pose.yaw < -22.5
    assert pose.method in ("mesh", "keypoints")


def test_frontal_frame_uses_the_mesh(detector, estimator: HeadPoseEstimator) -> None:  # type: ignore[no-untyped-def]
    # stage_performer frame 155: front.
    image = decode("stage_performer.mp4", 155)
    face = max(detector.detect(image), key=lambda f: f.box.area)
    pose = estimator.estimate(image, face)
    assert pose.method == "mesh"
    assert pose.direction == "front"
    assert pose.confidence > 0.5


def test_landmarks_land_on_the_face(detector) -> None:  # type: ignore[no-untyped-def]
    image = decode("stage_performer.mp4", 155)
    face = max(detector.detect(image), key=lambda f: f.box.area)
    mesh = FaceLandmarker().detect(image, face)
    assert mesh.points.shape == (468, 3)
    x, y = mesh.point("nose_tip")
    assert face.box.contains((x, y))
    lx, _ = mesh.point("left_eye_outer")
    rx, _ = mesh.point("right_eye_outer")
    assert lx < x < rx  # viewer's left eye corner is left of the nose
