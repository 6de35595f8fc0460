from __future__ import annotations

import av
import numpy as np

from personframes.analyze.tracking import (
    Observation,
    appearance_signature,
    similarity,
    track_people,
)
from personframes.detect import create_face_detector
from personframes.types import Box, FaceDetection
from personframes.video.cuts import find_shot_cuts, thumbnail

from .util import VIDEOS


def test_one_id_over_sitting_window() -> None:
    detector = create_face_detector("centerface", confidence=0.4, max_side=640)
    observations = []
    with av.open(str(VIDEOS / "sitting_window.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 30 or i > 465:  # every second while she is in view
                continue
            image = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            faces = detector.detect(image)
            sigs = [appearance_signature(image, f.box) for f in faces]
            observations.append(Observation(i, float(frame.time), faces, sigs))
    ids = track_people(observations)
    seen = {pid for frame_ids in ids for pid in frame_ids}
    assert sum(len(x) for x in ids) >= 8
    assert seen == {1}


def test_shot_cuts_of_stage_performer() -> None:
    with av.open(str(VIDEOS / "stage_performer.mp4")) as container:
        thumbs = [(i, thumbnail(frame)) for i, frame in enumerate(container.decode(video=0))]
    assert find_shot_cuts(thumbs) == [20, 82, 211]


def _person(colour: tuple[int, int, int], x: float) -> tuple[np.ndarray, Box]:
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    box = Box(x, 40, x + 40, 90)
    image[40:90, int(x) : int(x) + 40] = (200, 160, 140)  # skin
    image[90:160, int(x) - 40 : int(x) + 80] = colour  # clothing
    return image, box


def test_two_people_get_two_ids_and_reidentify_after_a_cut() -> None:
    red, blue = (200, 30, 30), (30, 30, 200)
    observations = []
    for k in range(4):  # both in view, walking apart slowly
        a_img, a_box = _person(red, 50 + 5 * k)
        b_img, b_box = _person(blue, 220 - 5 * k)
        image = np.maximum(a_img, b_img)
        faces = [FaceDetection(a_box, 0.9), FaceDetection(b_box, 0.9)]
        sigs = [appearance_signature(image, f.box) for f in faces]
        observations.append(Observation(k, k * 0.5, faces, sigs))
    # After a cut, only the blue person, somewhere else.
    image, box = _person(blue, 120)
    observations.append(
        Observation(10, 5.0, [FaceDetection(box, 0.9)], [appearance_signature(image, box)])
    )
    ids = track_people(observations, cuts=[10])
    assert ids[:4] == [[1, 2]] * 4
    assert ids[4] == [2]


def test_same_frame_never_shares_an_id() -> None:
    box = Box(10, 10, 50, 50)
    obs = [Observation(0, 0.0, [FaceDetection(box, 0.9), FaceDetection(box, 0.8)])]
    assert track_people(obs) == [[1, 2]]


def test_similarity_range() -> None:
    image, box = _person((200, 30, 30), 100)
    sig = appearance_signature(image, box)
    assert abs(sig.sum() - 1.0) < 1e-5
    assert similarity(sig, sig) > 0.99
