"""ARCHITECTURE.md's "A face detector" recipe, followed once: ``dlib-hog`` (dlib's HOG
frontal face detector, its keypoints from the bundled 5-point model), on real images
and a shared video. tests/test_detect.py runs it through every detector's contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.detect import FACE_DETECTORS, create_face_detector
from personframes.types import FaceDetection, Image

from .util import IMAGES, VIDEOS, run_cli


def _image(name: str) -> Image:
    return np.asarray(PILImage.open(IMAGES / "whole" / name).convert("RGB"))


def _best_match(face: FaceDetection, others: list[FaceDetection]) -> FaceDetection:
    return max(others, key=lambda other: face.box.iou(other.box))


def test_dlib_hog_is_a_registered_detector() -> None:
    assert "dlib-hog" in FACE_DETECTORS
    assert create_face_detector("dlib-hog").NAME == "dlib-hog"


@pytest.mark.parametrize(
    ("name", "faces"),
    [("two_people.jpg", 2), ("lowres_portrait_a.jpg", 4), ("portrait_soft.jpg", 2)],
)
def test_dlib_hog_boxes_and_eyes_agree_with_centerface(name: str, faces: int) -> None:
    """Every frontal face CenterFace finds on these photos, dlib-hog finds too, with a box
    that overlaps CenterFace's (IoU 0.59-0.83 measured: its boxes are square and stop
    at the eyebrows) and eyes within a fifth of the eye distance of CenterFace's."""
    image = _image(name)
    centerface = create_face_detector("centerface").detect(image)
    found = create_face_detector("dlib-hog").detect(image)
    assert len(found) == len(centerface) == faces
    for face in found:
        assert 0.5 < face.score <= 1.0 and face.detector == "dlib-hog"
        match = _best_match(face, centerface)
        assert face.box.iou(match.box) > 0.5, (face.box, match.box)
        assert set(face.keypoints) == {"left_eye", "right_eye", "nose_base"}
        eyes = np.array([face.keypoints["left_eye"], face.keypoints["right_eye"]])
        expected = np.array([match.keypoints["left_eye"], match.keypoints["right_eye"]])
        eye_distance = float(np.linalg.norm(expected[1] - expected[0]))
        assert np.linalg.norm(eyes - expected, axis=1).max() < 0.2 * eye_distance
        nose = face.keypoints["nose_base"]
        assert face.box.x1 < nose[0] < face.box.x2 and eyes[:, 1].max() < nose[1] < face.box.y2


def test_restore_with_dlib_hog_restores_the_face(tmp_path: Path) -> None:
    """`personframes restore --face-detector dlib-hog`: the face is found and restored
    (aligned from its box: the detector gives no mouth corners)."""
    result = run_cli(
        "restore",
        str(IMAGES / "whole" / "lowres_portrait_b.jpg"),
        "-o",
        str(tmp_path),
        "--upscale",
        "2",
        "--face-detector",
        "dlib-hog",
        "--restore-engine",
        "ncnn",
    )
    assert result.returncode == 0, result.stderr
    assert "restored at" in result.stderr, result.stderr
    with PILImage.open(tmp_path / "lowres_portrait_b.jpg") as out:
        assert out.size == (800, 450)


@pytest.mark.pipeline
def test_extract_with_dlib_hog_runs_on_a_shared_video(tmp_path: Path) -> None:
    result = run_cli(
        "extract",
        str(VIDEOS / "stage_performer.mp4"),
        "-o",
        str(tmp_path),
        "--face-detector",
        "dlib-hog",
        "--no-face-restoration",
    )
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "stage_performer_info.json").read_text())
    assert info["config"]["models"]["face_detector"] == "dlib-hog"
    faces = [o["face"] for o in info["outputs"] if o.get("face")]
    assert faces and all(f["detector"] == "dlib-hog" for f in faces)
    assert all({"left_eye", "right_eye", "nose_base"} == set(f["keypoints"]) for f in faces)
