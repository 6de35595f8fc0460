"""The head_in_frame analysis field: how much of a head the frame holds, measured on
faces the real detector finds in a shared photo, whole and cut by the frame's edge."""

from __future__ import annotations

import numpy as np
from PIL import Image

from personframes.analyze import head_in_frame
from personframes.detect import create_face_detector

from .util import IMAGES

PHOTO = IMAGES / "whole" / "lowres_portrait_a.jpg"


def test_a_head_cut_by_the_edge_is_measured_as_partly_outside() -> None:
    image = np.asarray(Image.open(PHOTO).convert("RGB"))
    detector = create_face_detector("centerface")
    face = max(detector.detect(image), key=lambda f: f.box.area)
    height, width = image.shape[:2]
    whole = head_in_frame(face, width, height)
    # the same photo cut through the middle of that face: its left half is gone
    cut_at = round(face.box.center[0])
    cut = image[:, cut_at:].copy()
    faces = detector.detect(cut)
    inside = [f for f in faces if f.box.x1 < 0.1 * face.box.width]  # the face at the edge
    assert inside, "the detector no longer finds the half face"
    part = head_in_frame(inside[0], cut.shape[1], cut.shape[0])
    assert part < whole - 0.2 and 0.0 < part < 0.9
    assert 0.0 <= whole <= 1.0
