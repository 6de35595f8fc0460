"""Shared by the tests that hold the project to ``tests/fixtures/mediapipe_reference.json``.

The fixture was written by ``bench/record_mediapipe_reference.py`` with mediapipe
0.10.21. This module owns what those tests (``test_face_parity``, ``test_pose_parity``,
``test_mediapipe_reference``) do alike: reading the fixture, decoding its inputs as the
recorder did, the pixel digest it recorded per input, its CenterFace faces as the
pipeline hands them on, and the pose stage run on those faces as the pipeline runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from personframes.detect.pose import BodyPose, PoseEstimator, body_region
from personframes.types import FIVE_POINT_NAMES, Box, FaceDetection, Image
from personframes.video.decode import VideoReader

from .util import SHARED

FIXTURE = Path(__file__).parent / "fixtures" / "mediapipe_reference.json"


def load_reference() -> dict[str, Any]:
    """The whole fixture (``settings``, ``inputs``, ...)."""
    return dict(json.loads(FIXTURE.read_text(encoding="utf-8")))


def decode_inputs(entries: Iterable[dict[str, Any]]) -> dict[str, Image]:
    """RGB images by input id, decoded as the recorder did: video frames with PyAV from
    the start of the file, still images with PIL."""
    images: dict[str, Image] = {}
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if "frame_index" in entry:
            wanted.setdefault(entry["source"], set()).add(entry["frame_index"])
        else:
            with PILImage.open(SHARED / entry["source"]) as handle:
                images[entry["id"]] = np.asarray(handle.convert("RGB"), dtype=np.uint8)
    for source, indices in wanted.items():
        with VideoReader(SHARED / source) as reader:
            for frame in reader.read(indices):
                images[f"{Path(source).stem}#{frame.index}"] = frame.image
    return images


def pixels_sha256(image: Image) -> str:
    """The digest of an image's pixels, as recorded in each input's ``rgb_sha256``."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def recorded_face(rec: dict[str, Any]) -> FaceDetection:
    """A recorded CenterFace face (px to 4 decimals), as the pipeline hands it to the
    mesh and pose stages: those are checked on the recorded faces, independent of
    CenterFace itself (checked in ``test_face_parity``)."""
    return FaceDetection(
        box=Box(*rec["box_px"]),
        score=rec["score"],
        keypoints={
            n: (x, y) for n, (x, y) in zip(FIVE_POINT_NAMES, rec["keypoints_px"], strict=True)
        },
        detector="centerface",
    )


@dataclass(frozen=True)
class FacePose:
    """The pose stage on one recorded face of an input (one ``pose_per_face`` record)."""

    record: dict[str, Any]  # the fixture's pose_per_face record
    region: Box  # body_region() of the face's box
    kept: bool  # detect_people kept a pose as this face's own
    pose: BodyPose | None  # that pose, else the estimator's pose on the region


def poses_per_face(estimator: PoseEstimator, image: Image, entry: dict[str, Any]) -> list[FacePose]:
    """For each recorded face of ``entry``: ``detect_people`` on all of them as the
    pipeline calls it, then, where it kept none, ``detect`` on the face's body region."""
    height, width = image.shape[:2]
    faces = [recorded_face(entry["centerface"][rec["face"]]) for rec in entry["pose_per_face"]]
    kept = estimator.detect_people(image, faces)
    out = []
    for rec, face, pose in zip(entry["pose_per_face"], faces, kept, strict=True):
        region = body_region(face.box, width, height)
        own = pose if pose is not None else estimator.detect(image, region)
        out.append(FacePose(record=rec, region=region, kept=pose is not None, pose=own))
    return out
