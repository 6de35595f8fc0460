"""The LiteRT face detectors, the face mesh and CenterFace against mediapipe's recordings.

``tests/fixtures/mediapipe_reference.json`` was written by
``bench/record_mediapipe_reference.py`` with mediapipe 0.10.21 on 26 inputs (labelled
frames of both shared videos and the shared whole images). Here, on all of them:

- ``MediaPipeFullRange`` / ``MediaPipeShortRange`` with the project's defaults against
  the recorded ``project`` detections, and ``BlazeFace`` on the whole image against the
  recorded ``raw`` ``mp.solutions.face_detection`` output;
- ``CenterFaceDetector`` (now loading the bundled ``centerface.onnx``) against its
  recorded faces;
- ``FaceLandmarker`` (now on LiteRT) on the recorded CenterFace faces against the
  recorded crops, presence and 468 points.

Note on thresholds: mediapipe 0.10.21's legacy face detection keeps its graph's own
minimum score (0.6 full range, 0.5 short range) whatever ``min_detection_confidence``
it is given (mediapipe issue 3896), so the recordings "at 0.4" and "at 0.3" hold the
detections scoring at least that graph threshold; the port reproduces this
(``MediaPipeFaceDetector.min_score``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from personframes.detect import create_face_detector
from personframes.detect.blazeface import BlazeFace
from personframes.detect.face_landmarks import FaceLandmarker
from personframes.detect.mediapipe_face import (
    KEYPOINT_NAMES,
    MediaPipeFaceDetector,
    MediaPipeFullRange,
    MediaPipeShortRange,
)
from personframes.types import FIVE_POINT_NAMES, Box, FaceDetection, Image

from .reference_inputs import decode_inputs, load_reference, pixels_sha256, recorded_face

# Tolerances. The same .tflite weights on LiteRT instead of mediapipe's TFLite, with the
# pre/post-processing ported; measured on the 26 inputs: boxes and keypoints within
# 0.005 px (the recording's rounding to 0.01 px), scores within 5e-5, mesh points within
# 0.03 px, presence within 0.001. The tolerances leave room for other CPUs / LiteRT builds.
MATCH_MIN_IOU = 0.5  # a detection matches the recorded one it overlaps by this IoU
BOX_MEDIAN_TOL_PX = 2.0  # median box-edge / keypoint error, px (or BOX_MEDIAN_TOL_REL)
BOX_MEDIAN_TOL_REL = 0.01  # ... as a fraction of the box's longer side, when larger
BOX_MAX_TOL_PX = 4.0  # largest box-edge / keypoint error, px (or BOX_MAX_TOL_REL)
BOX_MAX_TOL_REL = 0.02  # ... as a fraction of the box's longer side, when larger
SCORE_TOL = 0.02  # detection score (0..1)
COUNT_SCORE_MARGIN = 0.03  # a detection only one side has must score this near the threshold
CENTERFACE_TOL_PX = 0.01  # CenterFace box / keypoints (same ONNX file, same runtime)
MESH_CROP_TOL_PX = 0.01  # mesh crop centre / side (arithmetic on the face box)
MESH_ROTATION_TOL_DEG = 0.01  # mesh crop rotation (from the face's eye keypoints)
MESH_MEDIAN_TOL_PX = 1.0  # median error of the 468 mesh points' x / y, px
MESH_MAX_TOL_PX = 2.0  # largest error of any mesh point's x / y, px
MESH_Z_MAX_TOL_PX = 2.0  # largest error of the mesh's relative depth (px scale)
MESH_PRESENCE_TOL = 0.02  # face-presence probability

MODELS: dict[str, type[MediaPipeFaceDetector]] = {
    "mediapipe-full": MediaPipeFullRange,
    "mediapipe-short": MediaPipeShortRange,
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return load_reference()


@pytest.fixture(scope="module")
def images(reference: dict[str, Any]) -> dict[str, Image]:
    """Every recorded input, decoded as the recorder did."""
    return decode_inputs(reference["inputs"])


@dataclass
class Errors:
    """Absolute errors of matched detections, and the detections only one side has."""

    coords: list[float] = field(default_factory=list)  # px, box edges and keypoints
    coord_tol_median: list[float] = field(default_factory=list)  # per coordinate
    coord_tol_max: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # "<input>: found|missed score"

    def check(self, what: str) -> None:
        errors = np.array(self.coords)
        assert errors.size, f"{what}: nothing matched"
        median_tol = float(np.median(self.coord_tol_median))
        assert np.median(errors) <= median_tol, f"{what}: median error {np.median(errors):.3f} px"
        worst = int(np.argmax(errors - np.array(self.coord_tol_max)))
        assert errors[worst] <= self.coord_tol_max[worst], (
            f"{what}: error {errors[worst]:.3f} px over {self.coord_tol_max[worst]:.3f}"
        )
        assert max(self.scores) <= SCORE_TOL, f"{what}: score off by {max(self.scores):.4f}"


def _corners(box: Box) -> list[float]:
    return [box.x1, box.y1, box.x2, box.y2]


def compare_detections(
    found: list[FaceDetection],
    recorded: list[dict[str, Any]],
    threshold: float,
    names: tuple[str, ...],
    what: str,
    errors: Errors,
) -> None:
    """Match by IoU (best pairs first) and add the errors of each pair to ``errors``.

    A detection without a partner is an error unless its score is within
    ``COUNT_SCORE_MARGIN`` of ``threshold`` (float rounding may put it either side).
    """
    expected = [Box(*r["box_px"]) for r in recorded]
    pairs = sorted(
        (
            (found[i].box.iou(box), i, j)
            for i in range(len(found))
            for j, box in enumerate(expected)
        ),
        reverse=True,
    )
    used_found: set[int] = set()
    used_expected: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < MATCH_MIN_IOU or i in used_found or j in used_expected:
            continue
        used_found.add(i)
        used_expected.add(j)
        face, rec = found[i], recorded[j]
        got = _corners(face.box) + [v for n in names for v in face.keypoints[n]]
        want = rec["box_px"] + [v for point in rec["keypoints_px"] for v in point]
        side = max(face.box.width, face.box.height)
        for a, b in zip(got, want, strict=True):
            errors.coords.append(abs(a - b))
            errors.coord_tol_median.append(max(BOX_MEDIAN_TOL_PX, BOX_MEDIAN_TOL_REL * side))
            errors.coord_tol_max.append(max(BOX_MAX_TOL_PX, BOX_MAX_TOL_REL * side))
        errors.scores.append(abs(face.score - rec["score"]))
    lonely = [("found", found[i].score) for i in range(len(found)) if i not in used_found]
    lonely += [
        ("missed", recorded[j]["score"]) for j in range(len(recorded)) if j not in used_expected
    ]
    for kind, score in lonely:
        assert abs(score - threshold) <= COUNT_SCORE_MARGIN, (
            f"{what}: {kind} a face scoring {score:.4f} (threshold {threshold})"
        )
        errors.unmatched.append(f"{what}: {kind} {score:.4f}")


def test_inputs_decode_to_the_recorded_pixels(
    reference: dict[str, Any], images: dict[str, Image]
) -> None:
    for entry in reference["inputs"]:
        image = images[entry["id"]]
        assert image.shape[:2] == (entry["height"], entry["width"]), entry["id"]
        assert pixels_sha256(image) == entry["rgb_sha256"], f"{entry['id']}: decoded pixels differ"


@pytest.mark.parametrize("name", list(MODELS))
def test_face_detector_matches_mediapipe(
    name: str, reference: dict[str, Any], images: dict[str, Image]
) -> None:
    """The project's class with its defaults (confidence 0.4, max_side 640)."""
    detector = MODELS[name]()
    settings = reference["settings"]["face_detection"][name]
    assert (detector.confidence, detector.max_side) == (
        settings["project_confidence"],
        settings["project_max_side"],
    )
    errors = Errors()
    for entry in reference["inputs"]:
        recorded = entry["face_detection"][name]["project"]["detections"]
        found = detector.detect(images[entry["id"]])
        assert [f.detector for f in found] == [name] * len(found)
        assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)
        what = f"{entry['id']} {name}"
        compare_detections(found, recorded, detector.min_score, KEYPOINT_NAMES, what, errors)
    errors.check(name)


@pytest.mark.parametrize("name", list(MODELS))
def test_raw_blazeface_matches_mediapipe(
    name: str, reference: dict[str, Any], images: dict[str, Image]
) -> None:
    """The model on the full image, as ``mp.solutions.face_detection`` ran it."""
    spec = MODELS[name].SPEC
    model = BlazeFace(spec)
    confidence = reference["settings"]["face_detection"][name]["raw_min_detection_confidence"]
    threshold = max(confidence, spec.graph_min_score)  # what mediapipe applied
    errors = Errors()
    for entry in reference["inputs"]:
        width, height = entry["width"], entry["height"]
        found = [
            FaceDetection(
                box=Box(f.box[0] * width, f.box[1] * height, f.box[2] * width, f.box[3] * height),
                score=f.score,
                keypoints={
                    n: (x * width, y * height)
                    for n, (x, y) in zip(KEYPOINT_NAMES, f.keypoints, strict=True)
                },
                detector=name,
            )
            for f in model.detect(images[entry["id"]], threshold)
        ]
        recorded = entry["face_detection"][name]["raw"]["detections"]
        compare_detections(found, recorded, threshold, KEYPOINT_NAMES, f"{entry['id']} raw", errors)
    errors.check(f"{name} raw")


def test_confidence_above_the_graph_threshold_takes_effect(images: dict[str, Image]) -> None:
    image = images["image:lowres_portrait_a.jpg"]  # full range: 0.97, 0.95, 0.84, 0.83
    default = MediaPipeFullRange().detect(image)
    strict = MediaPipeFullRange(confidence=0.9).detect(image)
    assert len(default) == 4
    assert strict == [f for f in default if f.score >= 0.9] and len(strict) == 2


def test_centerface_matches_recording(reference: dict[str, Any], images: dict[str, Image]) -> None:
    """The bundled centerface.onnx gives the faces the mesh was recorded on."""
    detector = create_face_detector("centerface", max_side=640)  # as recorded
    for entry in reference["inputs"]:
        found = detector.detect(images[entry["id"]])
        recorded = entry["centerface"]
        assert len(found) == len(recorded), entry["id"]
        for face, rec in zip(found, recorded, strict=True):
            got = _corners(face.box) + [v for n in FIVE_POINT_NAMES for v in face.keypoints[n]]
            want = rec["box_px"] + [v for point in rec["keypoints_px"] for v in point]
            assert np.allclose(got, want, atol=CENTERFACE_TOL_PX), entry["id"]
            assert face.score == pytest.approx(rec["score"], abs=1e-4)


def test_face_mesh_matches_recording(reference: dict[str, Any], images: dict[str, Image]) -> None:
    landmarker = FaceLandmarker()
    xy_errors: list[float] = []
    fitted = 0
    for entry in reference["inputs"]:
        for rec in entry["face_mesh"]:
            what = f"{entry['id']} mesh of face {rec['face']}"
            face = recorded_face(entry["centerface"][rec["face"]])
            mesh = landmarker.detect(images[entry["id"]], face)
            assert np.allclose(mesh.crop.center, rec["crop_center"], atol=MESH_CROP_TOL_PX), what
            assert mesh.crop.width == pytest.approx(rec["crop_side"], abs=MESH_CROP_TOL_PX), what
            assert mesh.rotation == pytest.approx(rec["rotation_deg"], abs=MESH_ROTATION_TOL_DEG)
            assert mesh.presence == pytest.approx(rec["presence"], abs=MESH_PRESENCE_TOL), what
            if rec["points"] is None:  # recorded only where presence >= 0.5
                continue
            fitted += 1
            points = np.array(rec["points"])
            xy = np.abs(mesh.points[:, :2] - points[:, :2])
            assert xy.max() <= MESH_MAX_TOL_PX, f"{what}: x/y off by {xy.max():.3f} px"
            z = np.abs(mesh.points[:, 2] - points[:, 2])
            assert z.max() <= MESH_Z_MAX_TOL_PX, f"{what}: z off by {z.max():.3f} px"
            xy_errors.extend(xy.ravel().tolist())
    assert fitted >= 20  # 22 faces with presence >= 0.5 are recorded
    assert float(np.median(xy_errors)) <= MESH_MEDIAN_TOL_PX
