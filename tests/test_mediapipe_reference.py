"""The project's pose classes against mediapipe's recorded outputs.

``tests/fixtures/mediapipe_reference.json`` was written by
``bench/record_mediapipe_reference.py`` with mediapipe 0.10.21 (see the file's
``versions``, ``models`` and ``fields``). Today this is a consistency check (the same
code must give the same numbers); once mediapipe is replaced by LiteRT running the same
.tflite files with ported pre/post-processing, the port must still pass it within the
tolerances below. The face detectors, the face mesh and CenterFace are held to the same
file, on all its inputs, by ``tests/test_face_parity.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from personframes.detect.pose import BodyPose, PoseEstimator
from personframes.types import Image

from .reference_inputs import decode_inputs, load_reference, pixels_sha256, poses_per_face

# Tolerances the project (and the future LiteRT port of mediapipe's pre/post-processing)
# must meet against the recorded mediapipe outputs. Same .tflite weights on another
# interpreter differ by float rounding only; the slack covers resampling / anchor-decoding
# details of a port, not a different model.
BODY_REGION_TOL_PX = 0.01  # body_region() of a face box (arithmetic)
POSE_XY_TOL = 0.01  # pose landmark x/y, as a fraction of the crop's width/height
POSE_Z_TOL = 0.02  # pose landmark z, as a fraction of the crop's width
POSE_VISIBILITY_TOL = 0.02  # pose landmark visibility (0..1)

# 3-4 inputs keep the runtime low: two faces incl. the small pianist (stage 5), a sharp
# profile close-up whose second face's pose belongs to someone else (stage 35), a
# 1280 px frame the detectors downscale with a fitted mesh (sitting 270), a still image
# with two people (two_people.jpg).
CASES = (
    "stage_performer#5",
    "stage_performer#35",
    "sitting_window#270",
    "image:two_people.jpg",
)


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in load_reference()["inputs"]}


@pytest.fixture(scope="module")
def images(reference: dict[str, dict[str, Any]]) -> dict[str, Image]:
    return decode_inputs(reference[case] for case in CASES)


@pytest.fixture(scope="module")
def pose_estimator() -> Iterator[PoseEstimator]:
    with PoseEstimator() as estimator:
        yield estimator


def _assert_close(actual: Any, expected: Any, tol: float, what: str) -> None:
    diff = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    worst = float(diff.max()) if diff.size else 0.0
    assert worst <= tol, f"{what}: off by {worst:.4f} (tolerance {tol})"


def _check_pose(pose: BodyPose, landmarks: list[list[float]], crop: list[int], what: str) -> None:
    """``landmarks``: 33 x [x px, y px, z px, visibility] over ``crop`` [x1, y1, x2, y2]."""
    width, height = crop[2] - crop[0], crop[3] - crop[1]
    assert [
        round(v) for v in (pose.region.x1, pose.region.y1, pose.region.x2, pose.region.y2)
    ] == crop
    got = np.array([[lm.x, lm.y, lm.z, lm.visibility] for lm in pose.landmarks])
    exp = np.array(landmarks)
    _assert_close(got[:, 0] / width, exp[:, 0] / width, POSE_XY_TOL, f"{what} x")
    _assert_close(got[:, 1] / height, exp[:, 1] / height, POSE_XY_TOL, f"{what} y")
    _assert_close(got[:, 2] / width, exp[:, 2] / width, POSE_Z_TOL, f"{what} z")
    _assert_close(got[:, 3], exp[:, 3], POSE_VISIBILITY_TOL, f"{what} visibility")


@pytest.mark.parametrize("case", CASES)
def test_input_pixels_match(
    case: str, reference: dict[str, dict[str, Any]], images: dict[str, Image]
) -> None:
    """The inputs decode to exactly the recorded pixels (else nothing below is comparable)."""
    image = images[case]
    entry = reference[case]
    assert image.shape[:2] == (entry["height"], entry["width"])
    assert pixels_sha256(image) == entry["rgb_sha256"], f"{case}: decoded pixels differ"


@pytest.mark.parametrize("case", CASES)
def test_pose_per_face_matches(
    case: str,
    reference: dict[str, dict[str, Any]],
    images: dict[str, Image],
    pose_estimator: PoseEstimator,
) -> None:
    for found in poses_per_face(pose_estimator, images[case], reference[case]):
        rec, region, pose = found.record, found.region, found.pose
        what = f"{case} pose of face {rec['face']}"
        corners = [region.x1, region.y1, region.x2, region.y2]
        _assert_close(corners, rec["body_region"], BODY_REGION_TOL_PX, what)
        assert found.kept == rec["belongs_to_face"], f"{what}: kept by detect_people"
        assert (pose is not None) == rec["found"], f"{what}: found"
        if pose is not None:
            _check_pose(pose, rec["landmarks_px"], rec["crop_px"], what)


@pytest.mark.parametrize("case", CASES)
def test_pose_whole_image_matches(
    case: str,
    reference: dict[str, dict[str, Any]],
    images: dict[str, Image],
    pose_estimator: PoseEstimator,
) -> None:
    """PoseEstimator.detect(image) == mp Pose(static_image_mode=True) on the whole image."""
    entry, image = reference[case], images[case]
    recorded = entry["pose_whole_image"]
    pose = pose_estimator.detect(image)
    assert (pose is None) == (recorded is None)
    if pose is None:
        return
    width, height = entry["width"], entry["height"]
    rows = [[x * width, y * height, z * width, v] for x, y, z, v in recorded["landmarks_rel"]]
    _check_pose(pose, rows, [0, 0, width, height], f"{case} whole-image pose")
