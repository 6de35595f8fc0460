"""Face identity: the real dlib embedding on real faces, and how tracking uses it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from personframes.analyze.tracking import (
    Observation,
    TrackingParams,
    appearance_signature,
    track_people,
)
from personframes.detect.face_identity import (
    FaceEmbedder,
    identity_distance,
    identity_eligible,
)
from personframes.models.cache import resolve_model
from personframes.models.catalogue import get_model
from personframes.types import Box, FaceDetection, Image

from .util import SHARED

FACES = SHARED / "images" / "faces"
FACE_BOX = Box(96, 96, 416, 450)  # the face in the shared 512 px aligned images


def _face(name: str) -> Image:
    bgr = cv2.imread(str(FACES / f"aligned_{name}.png"))
    assert bgr is not None
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture(scope="module")
def embedder() -> FaceEmbedder:
    return FaceEmbedder()


def test_the_identity_model_is_installed_and_pinned() -> None:
    resolved = resolve_model(get_model("dlib-face-resnet-v1"))  # sizes and SHA-256 checked
    assert {p.suffix for p in resolved.paths.values()} == {".dat"}
    assert get_model("dlib-face-resnet-v1").licence == "CC0-1.0"


def test_one_face_at_two_sizes_is_near_two_people_far(embedder: FaceEmbedder) -> None:
    params = TrackingParams()
    a, b = _face("0240"), _face("0368")
    small = cv2.resize(a, (96, 96), interpolation=cv2.INTER_AREA)
    reference = embedder.embed(a, FACE_BOX)
    same = identity_distance(reference, embedder.embed(small, Box(18, 18, 78, 84)))
    different = identity_distance(reference, embedder.embed(b, FACE_BOX))
    assert same < params.same_distance / 2, same
    assert different > params.split_distance, different


def test_only_faces_turned_toward_the_camera_get_an_identity() -> None:
    assert identity_eligible(0.0) and identity_eligible(-44.0)
    assert not identity_eligible(60.0) and not identity_eligible(None)


def _frame(face: Image, x: int) -> tuple[Image, Box]:
    """A 640x360 frame with ``face`` (scaled to 120 px) at ``x``, in a grey jacket."""
    image = np.full((360, 640, 3), 40, np.uint8)
    image[160:360, x - 40 : x + 160] = (90, 90, 90)
    image[40:160, x : x + 120] = cv2.resize(face, (120, 120), interpolation=cv2.INTER_AREA)
    return image, Box(x + 22, 62, x + 98, 131)


def test_a_box_that_continues_with_another_face_is_another_person(
    embedder: FaceEmbedder,
) -> None:
    observations, plain = [], []
    for k, name in enumerate(("0240", "0240", "0368", "0368")):  # one place, one jacket
        image, box = _frame(_face(name), 200 + 2 * k)
        faces = [FaceDetection(box, 0.9)]
        sigs = [appearance_signature(image, box)]
        plain.append(Observation(k, k * 0.5, faces, sigs))
        observations.append(Observation(k, k * 0.5, faces, sigs, [embedder.embed(image, box)]))
    assert track_people(plain) == [[1], [1], [1], [1]]  # by box and colour: one person
    assert track_people(observations) == [[1], [1], [2], [2]]


def test_identity_reidentifies_across_a_cut_and_keeps_people_apart(
    embedder: FaceEmbedder,
) -> None:
    def seen(name: str, k: int, x: int, jacket: int) -> Observation:
        image, box = _frame(_face(name), x)
        image[160:360, x - 40 : x + 160] = jacket  # another shot: other light
        return Observation(
            k,
            k * 0.5,
            [FaceDetection(box, 0.9)],
            [appearance_signature(image, box)],
            [embedder.embed(image, box)],
        )

    observations = [
        seen("0240", 0, 100, 90),
        seen("0240", 1, 102, 90),
        seen("0368", 10, 400, 90),  # shot 2: someone else, same grey jacket
        seen("0240", 20, 300, 200),  # shot 3: the first person, lighter
    ]
    assert track_people(observations, cuts=[10, 20]) == [[1], [1], [2], [1]]
