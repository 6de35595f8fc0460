"""Face detectors: real models on labelled frames of the shared videos."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from personframes.detect import (
    FACE_DETECTORS,
    FaceDetector,
    create_face_detector,
)
from personframes.detect._onnx_dims import OnnxFormatError, drop_initializer_inputs, set_io_dims
from personframes.detect.centerface import CenterFaceDetector, default_model_path
from personframes.detect.combined import DEFAULT_MERGE_OVERLAP, merge
from personframes.errors import ModelError, UnknownIdError
from personframes.registry import Registry
from personframes.types import FIVE_POINT_NAMES, Box, FaceDetection, Image

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEOS = DATA / "videos"

# Labelled frames (../shared/data/labels/*.csv): frame_index -> face_box (x, y, w, h).
LABELS: dict[tuple[str, int], tuple[int, int, int, int]] = {
    ("sitting_window", 0): (383, 563, 55, 72),  # left profile, seated, full body
    ("sitting_window", 315): (237, 577, 60, 108),  # near frontal, crouching
    ("sitting_window", 360): (282, 298, 64, 95),  # near frontal, walking
    ("stage_performer", 5): (525, 42, 50, 62),  # frontal, small, wide stage view
    ("stage_performer", 35): (290, 118, 170, 242),  # left profile close-up
}
MEDIAPIPE_KEYPOINTS = {"left_eye", "right_eye", "nose", "mouth", "left_ear", "right_ear"}
DLIB_KEYPOINTS = {"left_eye", "right_eye", "nose_base"}  # dlib's 5 points: no mouth

# Known results at the defaults (confidence 0.4, max_side 640), from bench/detect_recall.py.
EXPECTED_HITS: list[tuple[str, str, int]] = [
    ("centerface", "sitting_window", 0),
    ("centerface", "sitting_window", 360),
    ("centerface", "stage_performer", 5),
    ("centerface", "stage_performer", 35),
    ("mediapipe-full", "sitting_window", 360),
    ("mediapipe-full", "stage_performer", 35),
    ("mediapipe-short", "sitting_window", 315),
    ("mediapipe-short", "stage_performer", 35),
    ("centerface+mediapipe", "sitting_window", 0),
    ("centerface+mediapipe", "stage_performer", 35),
]


def _decode(video: str, indices: set[int]) -> dict[int, Image]:
    frames: dict[int, Image] = {}
    with av.open(str(VIDEOS / f"{video}.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                frames[index] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            if index >= max(indices):
                break
    return frames


@pytest.fixture(scope="module")
def frames() -> dict[tuple[str, int], Image]:
    out: dict[tuple[str, int], Image] = {}
    for video in {v for v, _ in LABELS}:
        decoded = _decode(video, {i for v, i in LABELS if v == video})
        out.update({(video, i): image for i, image in decoded.items()})
    return out


@pytest.fixture(scope="module")
def detectors() -> dict[str, FaceDetector]:
    return {name: create_face_detector(name) for name in FACE_DETECTORS}


@pytest.fixture(autouse=True)
def _no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {[r.getMessage() for r in errors]}"


def _label_box(key: tuple[str, int]) -> Box:
    x, y, w, h = LABELS[key]
    return Box(x, y, x + w, y + h)


@pytest.mark.parametrize(("name", "video", "index"), EXPECTED_HITS)
def test_finds_labelled_main_face(
    detectors: dict[str, FaceDetector],
    frames: dict[tuple[str, int], Image],
    name: str,
    video: str,
    index: int,
) -> None:
    centre = _label_box((video, index)).center
    found = detectors[name].detect(frames[video, index])
    assert any(d.box.contains(centre) for d in found), [d.box for d in found]


@pytest.mark.parametrize("name", FACE_DETECTORS)
def test_results_follow_the_contract(
    detectors: dict[str, FaceDetector], frames: dict[tuple[str, int], Image], name: str
) -> None:
    detector = detectors[name]
    assert name == detector.NAME
    for key, image in frames.items():
        found = detector.detect(image)
        height, width = image.shape[:2]
        assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
        for d in found:
            assert d.detector == name
            assert 0.4 <= d.score <= 1.0
            assert 0 <= d.box.x1 < d.box.x2 <= width, key
            assert 0 <= d.box.y1 < d.box.y2 <= height, key


@pytest.mark.parametrize("name", FACE_DETECTORS)
def test_keypoint_names_and_viewer_sides(
    detectors: dict[str, FaceDetector], frames: dict[tuple[str, int], Image], name: str
) -> None:
    key = ("sitting_window", 315)  # near-frontal face: both eyes visible
    centre = _label_box(key).center
    face = next(d for d in detectors[name].detect(frames[key]) if d.box.contains(centre))
    names = set(face.keypoints)
    if name.startswith("mediapipe"):
        assert names == MEDIAPIPE_KEYPOINTS
    elif name == "dlib-hog":
        assert names == DLIB_KEYPOINTS
    else:
        assert set(FIVE_POINT_NAMES) <= names
        points = face.five_points()
        assert points is not None and points.shape == (5, 2)
        assert face.keypoints["mouth_left"][0] < face.keypoints["mouth_right"][0]
    # "left" is as seen by the viewer: nearer the image's left edge.
    assert face.keypoints["left_eye"][0] < face.keypoints["right_eye"][0]
    nose = face.keypoints["nose" if "nose" in names else "nose_base"]
    assert face.keypoints["left_eye"][1] < nose[1]
    for x, _y in face.keypoints.values():
        assert face.box.x1 - face.box.width < x < face.box.x2 + face.box.width


@pytest.mark.parametrize("name", FACE_DETECTORS)
@pytest.mark.parametrize(
    "image",
    [
        np.zeros((360, 640, 3), np.uint8),
        np.full((720, 1280, 3), 255, np.uint8),
        np.zeros((5, 7, 3), np.uint8),
        np.zeros((1, 1, 3), np.uint8),
    ],
    ids=["black", "white-large", "tiny", "one-pixel"],
)
def test_blank_images_have_no_faces(
    detectors: dict[str, FaceDetector], name: str, image: Image
) -> None:
    assert detectors[name].detect(image) == []


@pytest.mark.parametrize("name", FACE_DETECTORS)
def test_grey_images_do_not_crash(
    detectors: dict[str, FaceDetector], frames: dict[tuple[str, int], Image], name: str
) -> None:
    rgb = frames["sitting_window", 360]
    grey = np.asarray(rgb.mean(axis=2), dtype=np.uint8)
    grey_rgb = np.repeat(grey[:, :, None], 3, axis=2)
    from_2d = detectors[name].detect(grey)
    from_3ch = detectors[name].detect(grey_rgb)
    assert [d.box for d in from_2d] == [d.box for d in from_3ch]
    odd = np.ascontiguousarray(rgb[1:-3:, 2:-5])  # odd sizes, not multiples of 32
    assert isinstance(detectors[name].detect(odd), list)


def test_downscaled_boxes_are_in_full_resolution_coordinates(
    frames: dict[tuple[str, int], Image],
) -> None:
    key = ("sitting_window", 360)  # 676x1280: max_side 640 halves it
    image = frames[key]
    centre = _label_box(key).center
    native = create_face_detector("centerface", max_side=max(image.shape))
    small = create_face_detector("centerface", max_side=640)
    big_face = next(d for d in native.detect(image) if d.box.contains(centre))
    small_face = next(d for d in small.detect(image) if d.box.contains(centre))
    assert small_face.box.iou(big_face.box) > 0.6
    for name in FIVE_POINT_NAMES:
        (x1, y1), (x2, y2) = big_face.keypoints[name], small_face.keypoints[name]
        assert abs(x1 - x2) < 8 and abs(y1 - y2) < 8, name


def test_unknown_id_lists_known_ids() -> None:
    with pytest.raises(UnknownIdError) as info:
        create_face_detector("no-such-detector")
    for name in FACE_DETECTORS:
        assert name in str(info.value)


def test_registry_rejects_duplicate_ids() -> None:
    registry: Registry[type[FaceDetector]] = Registry("face detector")
    registry.register("x", CenterFaceDetector)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("x", CenterFaceDetector)
    assert registry.ids == ("x",)
    with pytest.raises(UnknownIdError, match=r"unknown face detector 'y' \(known: x\)"):
        registry.lookup("y")


def test_face_detectors_lists_the_registered_ids() -> None:
    assert FACE_DETECTORS == (
        "centerface",
        "mediapipe-full",
        "mediapipe-short",
        "dlib-hog",
        "centerface+mediapipe",
    )


@pytest.mark.parametrize(("confidence", "max_side"), [(1.5, 640), (-0.1, 640), (0.4, 16)])
def test_bad_settings_are_rejected(confidence: float, max_side: int) -> None:
    with pytest.raises(ValueError):
        create_face_detector("centerface", confidence=confidence, max_side=max_side)


def test_missing_model_file_raises_model_error(tmp_path: Path) -> None:
    path = tmp_path / "centerface.onnx"
    with pytest.raises(ModelError, match=str(path)):
        CenterFaceDetector(model_path=path)


@pytest.mark.parametrize("cut", [0, 1000, 100_000])
def test_corrupt_model_file_raises_model_error(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "centerface.onnx"
    path.write_bytes(default_model_path().read_bytes()[:cut] + b"\xff" * 16)
    with pytest.raises(ModelError, match=str(path)):
        CenterFaceDetector(model_path=path)


def test_set_io_dims_rejects_unknown_names() -> None:
    with pytest.raises(OnnxFormatError, match="nope"):
        set_io_dims(default_model_path().read_bytes(), {"nope": ["B"]})


def test_dropping_weight_inputs_keeps_centerface_outputs(
    frames: dict[tuple[str, int], Image],
) -> None:
    import onnxruntime as ort

    shaped = set_io_dims(default_model_path().read_bytes(), {"input.1": ["B", 3, "H", "W"]})
    folded = drop_initializer_inputs(shaped)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sessions = [
        ort.InferenceSession(m, sess_options=options, providers=["CPUExecutionProvider"])
        for m in (shaped, folded)
    ]
    # Weights listed as inputs may be overridden by a caller, so they are not folded.
    assert len(sessions[0].get_overridable_initializers()) > 100
    assert sessions[1].get_overridable_initializers() == []
    assert [i.name for i in sessions[1].get_inputs()] == ["input.1"]
    image = frames["sitting_window", 360][256:640, :672]  # sides: multiples of 32
    blob = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
    before, after = (s.run(None, {"input.1": blob}) for s in sessions)
    assert before[0].max() > 0.5  # the face's heatmap peak: the comparison means something
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_gpu_request_falls_back_to_cpu_with_one_warning(
    caplog: pytest.LogCaptureFixture, frames: dict[tuple[str, int], Image]
) -> None:
    caplog.set_level(logging.WARNING)
    first = CenterFaceDetector(device="gpu")
    second = CenterFaceDetector(device="gpu")
    warnings = [r for r in caplog.records if "GPU requested" in r.getMessage()]
    assert len(warnings) <= 1
    if "CUDAExecutionProvider" not in first.providers:
        assert first.providers == second.providers == ["CPUExecutionProvider"]
    assert first.detect(frames["stage_performer", 35])


def test_merge_keeps_priority_box_and_unions_keypoints() -> None:
    cf_face = FaceDetection(Box(10, 10, 50, 60), 0.7, {"left_eye": (20, 30)}, "centerface")
    cf_other = FaceDetection(Box(30, 12, 70, 62), 0.6, {}, "centerface")  # own NMS kept it
    mp_face = FaceDetection(
        Box(0, 20, 45, 65), 0.9, {"left_eye": (22, 31), "mouth": (30, 50)}, "mediapipe-full"
    )
    mp_only = FaceDetection(Box(200, 200, 240, 240), 0.5, {"nose": (220, 220)}, "mediapipe-full")
    merged = merge([[cf_face, cf_other], [mp_face, mp_only]], "a+b", DEFAULT_MERGE_OVERLAP)
    assert len(merged) == 3
    first = merged[0]
    assert first.box == cf_face.box and first.score == 0.9 and first.detector == "a+b"
    assert first.keypoints == {"left_eye": (20, 30), "mouth": (30, 50)}
    assert merged[1].box == cf_other.box
    assert merged[2].box == mp_only.box and merged[2].keypoints == mp_only.keypoints


def test_combined_detection_has_both_keypoint_sets(
    detectors: dict[str, FaceDetector], frames: dict[tuple[str, int], Image]
) -> None:
    key = ("sitting_window", 315)
    centre = _label_box(key).center
    found = detectors["centerface+mediapipe"].detect(frames[key])
    face = next(d for d in found if d.box.contains(centre))
    assert set(FIVE_POINT_NAMES) | {"mouth", "left_ear", "right_ear"} <= set(face.keypoints)
    assert len([d for d in found if d.box.contains(centre)]) == 1
