"""The LiteRT BlazePose port against mediapipe 0.10.21's recorded pose outputs.

``tests/fixtures/mediapipe_reference.json`` (written by
``bench/record_mediapipe_reference.py``) holds, for 26 inputs (labelled frames of both
shared videos and the shared still images), what mediapipe's ``mp.solutions.pose.Pose``
returned: per CenterFace face (up to 5) the body region, the integer crop, the 33
landmarks, the world landmarks and mediapipe's internal pose detection and ROI; and one
raw run on the whole image. Every input is run here through the project's
:class:`PoseEstimator` (``detect_people`` / ``detect`` as the pipeline calls them) and
through :class:`BlazePose` (for the internal detection and ROI), and held to the
tolerances below.

Measured on the 26 inputs (x86-64, LiteRT 2.3.0 with XNNPACK), as fractions of the ROI
side: landmark x/y median 0.00002, max 0.0068; visibility max 0.0015; world landmarks
max 1.1 mm; detections and ROIs equal to the recording's 4 decimals; found / not found
agree everywhere. Same weights on another interpreter build differ by float rounding;
what the slack below covers is that a landmark's heatmap refinement window (9 x 9 cells
of 4 px) can move by one cell on a borderline case, which shifts a hand or foot point
by a few % of the ROI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from personframes.detect.blazepose import BlazePose, PoseResult
from personframes.detect.pose import BodyPose, PoseEstimator
from personframes.types import Box

from .reference_inputs import decode_inputs, load_reference, pixels_sha256, poses_per_face

MIN_DETECTION_CONFIDENCE = 0.5  # the recording's (and PoseEstimator's) detector threshold
# Found / not found may differ only where the detection score is this close to the
# threshold (then a float-rounding difference can decide it); it differs nowhere today.
FOUND_SCORE_MARGIN = 0.05
# Landmark x / y error as a fraction of the side of the ROI the landmark model ran on.
XY_MEDIAN_TOL = 0.002  # median over all landmarks of all poses (measured 0.00002)
XY_MAX_TOL = 0.03  # any single landmark (measured 0.0068)
Z_MAX_TOL = 0.01  # relative depth, same scale (measured 0.0009)
VISIBILITY_TOL = 0.05  # visibility, 0..1 (measured 0.0015)
WORLD_TOL_M = 0.02  # world landmarks, metres, any axis (measured 0.0011)
DETECTION_SCORE_TOL = 0.01  # pose detector score (recorded to 4 decimals)
DETECTION_COORD_TOL = 0.002  # detection box / keypoints, normalised to the image
ROI_TOL = 0.002  # ROI centre / size (normalised) and rotation (radians)
BODY_REGION_TOL_PX = 0.01  # body_region() of a face box (arithmetic)


@dataclass
class Errors:
    """Per-landmark errors collected over every compared pose."""

    xy: list[float] = field(default_factory=list)
    z: list[float] = field(default_factory=list)
    visibility: list[float] = field(default_factory=list)
    world: list[float] = field(default_factory=list)
    worst: dict[str, tuple[float, str]] = field(default_factory=dict)

    def add(self, kind: str, values: np.ndarray, what: str) -> None:
        getattr(self, kind).extend(float(v) for v in values)
        top = float(values.max())
        if top > self.worst.get(kind, (-1.0, ""))[0]:
            self.worst[kind] = (top, what)

    def summary(self, kind: str) -> str:
        values = np.asarray(getattr(self, kind))
        top, where = self.worst[kind]
        return f"{kind}: median {np.median(values):.5f}, max {top:.5f} ({where})"


@dataclass
class Mismatch:
    what: str
    recorded: bool
    found: bool
    score: float | None  # the detection score nearest the decision (recorded or ours)


@dataclass
class Run:
    errors: Errors = field(default_factory=Errors)
    mismatches: list[Mismatch] = field(default_factory=list)
    internals: list[tuple[str, PoseResult, dict[str, Any]]] = field(default_factory=list)
    belongs: list[tuple[str, bool, bool]] = field(default_factory=list)
    regions: list[tuple[str, Box, list[float]]] = field(default_factory=list)
    compared: int = 0


def _compare(
    run: Run,
    what: str,
    pose: BodyPose | None,
    recorded: dict[str, Any] | None,
    expected: np.ndarray | None,
    crop: tuple[int, int, int, int],
    ours: PoseResult | None,
) -> None:
    """``expected``: 33 x [x px, y px, z px, visibility] in the full image."""
    found, was_found = pose is not None, recorded is not None
    if found != was_found:
        if recorded is not None:
            score = recorded["pose_detection"]["score"]
        else:
            score = ours.detection.score if ours is not None else None
        run.mismatches.append(Mismatch(what, was_found, found, score))
        return
    if pose is None or recorded is None or expected is None:
        return
    run.compared += 1
    x1, _, x2, _ = crop
    assert (pose.region.x1, pose.region.y1, pose.region.x2, pose.region.y2) == crop, what
    roi = recorded["roi_from_detection"]
    side = roi["width"] * (x2 - x1)  # ROI side in px (square in px)
    got = np.array([[lm.x, lm.y, lm.z, lm.visibility] for lm in pose.landmarks])
    xy = np.abs(got[:, :2] - expected[:, :2]).max(axis=1) / side
    run.errors.add("xy", xy, what)
    run.errors.add("z", np.abs(got[:, 2] - expected[:, 2]) / side, what)
    run.errors.add("visibility", np.abs(got[:, 3] - expected[:, 3]), what)
    world = np.array([[w.x, w.y, w.z] for w in pose.world_landmarks])
    run.errors.add("world", np.abs(world - np.array(recorded["world_landmarks"])).max(axis=1), what)
    if ours is not None:
        run.internals.append((what, ours, recorded))


@pytest.fixture(scope="module")
def run() -> Run:
    doc = load_reference()
    settings = doc["settings"]["pose"]
    assert settings["min_detection_confidence"] == MIN_DETECTION_CONFIDENCE
    assert settings["static_image_mode"] and settings["model_complexity"] == 1
    entries = doc["inputs"]
    images = decode_inputs(entries)
    out = Run()
    with PoseEstimator(min_detection_confidence=MIN_DETECTION_CONFIDENCE) as estimator:
        model = BlazePose(min_detection_confidence=MIN_DETECTION_CONFIDENCE)
        for entry in entries:
            image = images[entry["id"]]
            assert pixels_sha256(image) == entry["rgb_sha256"], f"{entry['id']}: pixels differ"
            height, width = image.shape[:2]
            for found in poses_per_face(estimator, image, entry):
                rec = found.record
                what = f"{entry['id']} face {rec['face']}"
                out.regions.append((what, found.region, rec["body_region"]))
                out.belongs.append((what, found.kept, rec["belongs_to_face"]))
                x1, y1, x2, y2 = rec["crop_px"]
                ours = model.process(image[y1:y2, x1:x2])
                expected = np.array(rec["landmarks_px"]) if rec["found"] else None
                recorded = rec if rec["found"] else None
                _compare(out, what, found.pose, recorded, expected, (x1, y1, x2, y2), ours)
            whole = entry["pose_whole_image"]
            expected = None
            if whole is not None:
                rel = np.array(whole["landmarks_rel"])
                expected = rel * np.array([width, height, width, 1.0])
            what = f"{entry['id']} whole image"
            pose = estimator.detect(image)
            _compare(out, what, pose, whole, expected, (0, 0, width, height), model.process(image))
        model.close()
    return out


def test_found_agrees(run: Run) -> None:
    """mediapipe and the port find a person in the same crops, but for scores at the edge."""
    unexplained = [
        m
        for m in run.mismatches
        if m.score is None or abs(m.score - MIN_DETECTION_CONFIDENCE) > FOUND_SCORE_MARGIN
    ]
    assert not unexplained, f"found / not found differs: {unexplained}"
    assert run.compared >= 60, f"only {run.compared} poses compared"


def test_detect_people_keeps_the_same_poses(run: Run) -> None:
    """detect_people's own-person check keeps / drops the same poses as with mediapipe."""
    allowed = {m.what for m in run.mismatches}
    differ = [what for what, kept, recorded in run.belongs if kept != recorded]
    assert set(differ) <= allowed, f"kept by detect_people differs: {differ}"


def test_body_regions(run: Run) -> None:
    for what, region, recorded in run.regions:
        got = np.array([region.x1, region.y1, region.x2, region.y2])
        assert np.abs(got - np.array(recorded)).max() <= BODY_REGION_TOL_PX, what


def test_detection_and_roi(run: Run) -> None:
    """The port's pose detection and ROI equal mediapipe's internal streams."""
    for what, ours, recorded in run.internals:
        det, roi = recorded["pose_detection"], recorded["roi_from_detection"]
        assert abs(ours.detection.score - det["score"]) <= DETECTION_SCORE_TOL, what
        coords = np.r_[ours.detection.box, np.ravel(ours.detection.keypoints)]
        expected = np.r_[det["box_rel"], np.ravel(det["keypoints_rel"])]
        assert np.abs(coords - expected).max() <= DETECTION_COORD_TOL, f"{what} detection"
        got = [ours.roi.x_center, ours.roi.y_center, ours.roi.width, ours.roi.height]
        want = [roi["x_center"], roi["y_center"], roi["width"], roi["height"]]
        assert np.abs(np.array(got) - want).max() <= ROI_TOL, f"{what} ROI"
        turn = (ours.roi.rotation - roi["rotation"] + np.pi) % (2 * np.pi) - np.pi
        assert abs(turn) <= ROI_TOL, f"{what} ROI rotation"


def test_landmark_xy(run: Run) -> None:
    values = np.asarray(run.errors.xy)
    assert np.median(values) <= XY_MEDIAN_TOL, run.errors.summary("xy")
    assert values.max() <= XY_MAX_TOL, run.errors.summary("xy")


def test_landmark_z(run: Run) -> None:
    assert max(run.errors.z) <= Z_MAX_TOL, run.errors.summary("z")


def test_visibility(run: Run) -> None:
    assert max(run.errors.visibility) <= VISIBILITY_TOL, run.errors.summary("visibility")


def test_world_landmarks(run: Run) -> None:
    assert max(run.errors.world) <= WORLD_TOL_M, run.errors.summary("world")
