"""head_box: face crops that hold the whole head, on real labelled frames and in geometry."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.detect import FaceDetector, create_face_detector
from personframes.output.crops import crop_box, head_box
from personframes.types import Box, FaceDetection, Image, Point
from personframes.video.decode import VideoReader

from .util import VIDEOS, labels

# A handful of labelled frames (../shared/data/labels): frontal, turned and profile
# faces, small and large; each has CenterFace's main-face hit at the defaults.
FRAMES: dict[str, tuple[int, ...]] = {
    "sitting_window": (0, 90, 315, 360, 450),  # profile, looking left, front, front, 3/4
    "stage_performer": (5, 35, 95, 155, 230),  # small front, profile close-up, front, profile
}
PROFILES = {("sitting_window", 0), ("stage_performer", 35), ("stage_performer", 230)}
# Top of the hair (y, pixels) read by eye on contact sheets (bench/head_framing.py).
HAIR_TOP_Y = {
    ("sitting_window", 0): 524,
    ("sitting_window", 90): 532,
    ("sitting_window", 315): 525,
    ("sitting_window", 360): 238,
    ("sitting_window", 450): 83,
    ("stage_performer", 5): 35,
    ("stage_performer", 95): 20,
}
PADDING = 0.1  # the face-crop padding recommended around head_box

Key = tuple[str, int]


def _label_box(video: str, index: int) -> Box:
    row = next(r for r in labels(video) if int(r["frame_index"]) == index)
    x, y, w, h = (float(v) for v in row["face_box"].split(","))
    return Box(x, y, x + w, y + h)


def _decode(video: str, indices: set[int]) -> dict[int, Image]:
    with VideoReader(VIDEOS / f"{video}.mp4") as reader:
        return {frame.index: frame.image for frame in reader.read(indices)}


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return create_face_detector("centerface")


@pytest.fixture(scope="module")
def frames() -> dict[Key, Image]:
    out: dict[Key, Image] = {}
    for video, indices in FRAMES.items():
        out.update({(video, i): image for i, image in _decode(video, set(indices)).items()})
    return out


@pytest.fixture(scope="module")
def faces(detector: FaceDetector, frames: dict[Key, Image]) -> dict[Key, FaceDetection]:
    """The detection of each frame's labelled main face."""
    out: dict[Key, FaceDetection] = {}
    for key, image in frames.items():
        label = _label_box(*key)
        hits = [d for d in detector.detect(image) if d.box.contains(label.center)]
        assert hits, f"CenterFace missed the labelled face of {key}"
        out[key] = max(hits, key=lambda d: d.box.iou(label))
    return out


def _inside(inner: Box, outer: Box, tolerance: float = 0.0) -> bool:
    return (
        outer.x1 - tolerance <= inner.x1
        and outer.y1 - tolerance <= inner.y1
        and inner.x2 <= outer.x2 + tolerance
        and inner.y2 <= outer.y2 + tolerance
    )


def test_head_box_holds_the_labelled_face_with_room_for_hair(
    faces: dict[Key, FaceDetection],
) -> None:
    inside, hair_room = [], []
    for key, face in faces.items():
        label, head = _label_box(*key), head_box(face)
        inside.append(_inside(label, head))
        # The label starts at the hairline: the hair needs room above it.
        hair_room.append(label.y1 - head.y1 >= 0.25 * label.height)
        assert head.y2 >= label.y2, f"{key}: chin cut"
    assert sum(inside) >= 0.9 * len(inside), inside
    assert sum(hair_room) >= 0.9 * len(hair_room), hair_room


def test_the_old_crop_cut_hair_that_the_new_one_keeps(
    faces: dict[Key, FaceDetection], frames: dict[Key, Image]
) -> None:
    kept_new, kept_old = [], []
    for key, hair_y in HAIR_TOP_Y.items():
        height, width = frames[key].shape[:2]
        face = faces[key]
        kept_new.append(crop_box(head_box(face), width, height, PADDING).y1 <= hair_y)
        kept_old.append(crop_box(face.box, width, height, 0.3).y1 <= hair_y)
    assert all(kept_new), kept_new
    assert sum(kept_old) < len(kept_old)  # the 0.3-padded face box cut the big hair


def test_head_box_is_not_absurdly_large(faces: dict[Key, FaceDetection]) -> None:
    ratios = []
    for key, face in faces.items():
        label, head = _label_box(*key), head_box(face)
        ratios.append(head.area / label.area)
        assert head.height <= 2.2 * label.height, key
        assert head.width <= 1.8 * label.height, key  # a profile: nose tip to back of head
    assert max(ratios) <= 6.5, ratios
    assert 1.5 <= float(np.median(ratios)) <= 4.0, ratios


def test_profile_box_reaches_back_of_the_head(faces: dict[Key, FaceDetection]) -> None:
    for key in PROFILES:  # all face the image's left: the back of the head is right
        label, head = _label_box(*key), head_box(faces[key])
        in_front, behind = label.x1 - head.x1, head.x2 - label.x2
        # The label runs from the nose tip to the front of the ear; the skull
        # goes on about half a face height behind the ear.
        assert behind > 1.5 * in_front > 0, (key, in_front, behind)
        assert behind >= 0.45 * label.height, key
        assert head.center[0] > label.center[0] + 0.1 * label.height, key


def test_box_only_detection_gives_a_sensible_head_box(faces: dict[Key, FaceDetection]) -> None:
    for key, face in faces.items():
        bare = replace(face, keypoints={})
        label, head = _label_box(*key), head_box(bare)
        assert _inside(label, head), key
        assert label.y1 - head.y1 >= 0.25 * label.height, key
        assert head.area <= 6.5 * label.area, key
        # Not far from the keypoint version.
        assert head.iou(head_box(face)) > 0.5, key


def _rotate_image(image: Image, degrees: float) -> tuple[Image, tuple[int, int], tuple[int, int]]:
    """Rotate counter-clockwise (as PIL does) with expand; also the old and new sizes."""
    pil = PILImage.fromarray(image)
    rotated = pil.rotate(degrees, resample=PILImage.Resampling.BICUBIC, expand=True)
    return np.asarray(rotated), pil.size, rotated.size


def _map(point: Point, degrees: float, old: tuple[int, int], new: tuple[int, int]) -> Point:
    t = math.radians(degrees)
    x, y = point[0] - old[0] / 2, point[1] - old[1] / 2
    return (
        x * math.cos(t) + y * math.sin(t) + new[0] / 2,
        -x * math.sin(t) + y * math.cos(t) + new[1] / 2,
    )


@pytest.mark.parametrize("degrees", [-20, 20])
@pytest.mark.parametrize("key", [("stage_performer", 155), ("sitting_window", 360)])
def test_tilted_real_face_stays_inside(
    detector: FaceDetector, frames: dict[Key, Image], key: Key, degrees: float
) -> None:
    image, old, new = _rotate_image(frames[key], degrees)
    label = _label_box(*key)
    x1, y1, x2, y2, w, h = label.x1, label.y1, label.x2, label.y2, label.width, label.height
    # The face outline: forehead corners, cheeks, jaw and chin (the label's bottom
    # corners are air beside the chin, not head).
    outline = [(x1, y1), (x2, y1), (x1, y1 + h / 2), (x2, y1 + h / 2)]
    outline += [(x1 + 0.1 * w, y1 + 0.85 * h), (x2 - 0.1 * w, y1 + 0.85 * h)]
    outline += [(x1 + 0.3 * w, y2), (x2 - 0.3 * w, y2)]
    centre = _map(label.center, degrees, old, new)
    face = max((d for d in detector.detect(image) if d.box.contains(centre)), key=lambda d: d.score)
    head = head_box(face)
    slack = 0.05 * h  # label edges are eye estimates (5-10 px)
    for point in outline:
        x, y = _map(point, degrees, old, new)
        assert head.x1 - slack <= x <= head.x2 + slack and head.y1 - slack <= y <= head.y2 + slack
    hair = _map((label.center[0], y1 - 0.2 * h), degrees, old, new)
    assert head.contains(hair)


# Synthetic frontal face: keypoints and box in CenterFace's proportions
# (eye line 0.40 and mouth 0.76 box heights down, eye-mouth 0.358 box heights).
EYES_Y, MOUTH_Y, BOX_H = 300.0, 343.0, 120.0
UPRIGHT = FaceDetection(
    box=Box(155.0, EYES_Y - 0.4 * BOX_H, 245.0, EYES_Y + 0.6 * BOX_H),
    score=0.9,
    keypoints={
        "left_eye": (178.0, EYES_Y),
        "right_eye": (222.0, EYES_Y),
        "nose": (200.0, 322.0),
        "mouth_left": (183.0, MOUTH_Y),
        "mouth_right": (217.0, MOUTH_Y),
    },
    detector="centerface",
)
EYE_MID = (200.0, EYES_Y)


def _turn(face: FaceDetection, degrees: float, about: Point = EYE_MID) -> FaceDetection:
    """The face rolled by ``degrees`` (positive: clockwise on screen, y down)."""
    t = math.radians(degrees)

    def move(p: Point) -> Point:
        x, y = p[0] - about[0], p[1] - about[1]
        return (
            about[0] + x * math.cos(t) - y * math.sin(t),
            about[1] + x * math.sin(t) + y * math.cos(t),
        )

    corners = [move(p) for p in [(face.box.x1, face.box.y1), (face.box.x2, face.box.y1)]]
    corners += [move(p) for p in [(face.box.x1, face.box.y2), (face.box.x2, face.box.y2)]]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    box = Box(min(xs), min(ys), max(xs), max(ys))
    return replace(face, box=box, keypoints={k: move(p) for k, p in face.keypoints.items()})


def test_upright_synthetic_face_geometry() -> None:
    head = head_box(UPRIGHT)
    unit = (MOUTH_Y - EYES_Y) / 0.358
    assert head.center[0] == pytest.approx(200.0, abs=0.5)  # symmetric face, centred
    assert EYES_Y - head.y1 == pytest.approx(0.85 * unit, rel=0.02)  # hair room
    assert head.y2 - EYES_Y == pytest.approx(0.75 * unit, rel=0.02)  # chin and margin
    assert head.width == pytest.approx(1.0 * unit, rel=0.05)
    assert head.y1 < UPRIGHT.box.y1 - 0.35 * BOX_H and head.y2 > UPRIGHT.box.y2


@pytest.mark.parametrize("degrees", [-60, -30, -10, 10, 30, 60, 90])
def test_tilted_synthetic_face_follows_the_roll(degrees: float) -> None:
    upright = head_box(UPRIGHT)
    tilted = head_box(_turn(UPRIGHT, degrees))
    # The head's extreme points (top of the hair, chin, both sides) turn with the face.
    for point in [
        (upright.center[0], upright.y1),
        (upright.center[0], upright.y2),
        (upright.x1, upright.center[1]),
        (upright.x2, upright.center[1]),
    ]:
        t = math.radians(degrees)
        x, y = point[0] - EYE_MID[0], point[1] - EYE_MID[1]
        moved = (
            EYE_MID[0] + x * math.cos(t) - y * math.sin(t),
            EYE_MID[1] + x * math.sin(t) + y * math.cos(t),
        )
        assert _inside(Box(*moved, *moved), tilted, tolerance=1.0), (degrees, point)
    # A clockwise roll moves the top of the head to the right of the eyes and the
    # head's centre with it; never more than a rotated rectangle would need.
    assert (tilted.center[0] > EYE_MID[0]) == (degrees > 0)
    t = abs(math.radians(degrees))
    rect_w = upright.width * math.cos(t) + upright.height * math.sin(t)
    rect_h = upright.width * math.sin(t) + upright.height * math.cos(t)
    assert tilted.width <= rect_w + 1 and tilted.height <= rect_h + 1
    if abs(degrees) == 90:  # lying on the side: the box lies too
        assert tilted.width > tilted.height


def test_turned_synthetic_face_extends_behind_the_nose() -> None:
    # A left profile: eyes on top of each other, nose ahead (to the image's left).
    points = dict(UPRIGHT.keypoints)
    points.update(left_eye=(190.0, EYES_Y), right_eye=(197.0, EYES_Y), nose=(176.0, 322.0))
    points.update(mouth_left=(186.0, MOUTH_Y), mouth_right=(192.0, MOUTH_Y))
    box = Box(170.0, UPRIGHT.box.y1, 245.0, UPRIGHT.box.y2)
    profile = FaceDetection(box, 0.9, points, "centerface")
    head = head_box(profile)
    midline = (193.5 + 189.0) / 2
    assert head.x2 - midline > 2 * (midline - head.x1)  # the back of the head is right
    mirrored = FaceDetection(
        Box(400 - box.x2, box.y1, 400 - box.x1, box.y2),
        0.9,
        {k: (400 - x, y) for k, (x, y) in points.items()},
        "centerface",
    )
    flipped = head_box(mirrored)
    assert flipped.x1 == pytest.approx(400 - head.x2) and flipped.x2 == pytest.approx(400 - head.x1)
    # Without the nose the direction is unknown: the box widens on both sides.
    no_nose = head_box(replace(profile, keypoints={k: v for k, v in points.items() if k != "nose"}))
    assert no_nose.x1 < head.x1 and no_nose.width > head.width


def test_mediapipe_style_keypoints_and_degenerate_faces() -> None:
    kp = UPRIGHT.keypoints
    mouth = ((kp["mouth_left"][0] + kp["mouth_right"][0]) / 2, MOUTH_Y)
    single_mouth = replace(
        UPRIGHT,
        keypoints={
            "left_eye": kp["left_eye"],
            "right_eye": kp["right_eye"],
            "nose": kp["nose"],
            "mouth": mouth,
        },
    )
    assert head_box(single_mouth) == head_box(UPRIGHT)
    # Eyes on the mouth (garbage keypoints): falls back to the box.
    flat = replace(UPRIGHT, keypoints={k: EYE_MID for k in kp})
    assert head_box(flat) == head_box(replace(UPRIGHT, keypoints={}))
    empty = FaceDetection(Box(10, 10, 10, 30), 0.5)
    assert head_box(empty) == empty.box
