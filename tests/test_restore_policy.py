"""The restoration policy on real faces with the real model: when it restores, when not.

Inputs are made from real high-resolution faces of the shared data (a sharp close-up
of stage_performer, the shared portraits), the way bench/restore_fidelity.py makes
them; the model is the shipped Real-ESRGAN x4plus on ncnn.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.detect import create_face_detector
from personframes.models.catalogue import DEFAULT_MODEL
from personframes.output.crops import crop_box, cut, head_box
from personframes.resize import fit_longest, lanczos
from personframes.restore import FaceRestoration, ModelSession, create_restorer, restore_faces
from personframes.restore.metrics import blur_index, psnr, ssim
from personframes.restore.policy import (
    LIGHT_TOUCH_MAX_INPUT,
    MAX_MODEL_INPUT,
    MIN_FACE_PX,
    FaceFeatures,
    Policy,
    face_features,
)
from personframes.restore.settings import RestorationSettings
from personframes.types import Box, Image
from personframes.video.decode import VideoReader

from .util import IMAGES, VIDEOS

# stage_performer frame 35: a sharp close-up, face box about 170 x 242 px (labels).
CLOSEUP_FRAME, CLOSEUP_BOX = 35, Box(290, 118, 460, 360)


@pytest.fixture(scope="module")
def session() -> ModelSession:
    return ModelSession()


@pytest.fixture(scope="module")
def closeup() -> Image:
    with VideoReader(VIDEOS / "stage_performer.mp4") as reader:
        frame = next(iter(reader.read({CLOSEUP_FRAME})))
    return frame.image


def _area(image: Image, factor: float) -> Image:
    h, w = image.shape[:2]
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _face_crop(image: Image, box: Box, pad: float = 0.3) -> Image:
    h, w = image.shape[:2]
    px, py = box.width * pad, box.height * pad
    x1, y1 = max(0, int(box.x1 - px)), max(0, int(box.y1 - py))
    x2, y2 = min(w, int(box.x2 + px)), min(h, int(box.y2 + py))
    return np.ascontiguousarray(image[y1:y2, x1:x2])


def test_sharp_large_face_is_left_untouched(closeup: Image, session: ModelSession) -> None:
    """The extract crop of a sharp close-up (head box, default padding) brought to 512."""
    face = max(create_face_detector("centerface").detect(closeup), key=lambda f: f.box.area)
    h, w = closeup.shape[:2]
    crop = cut(closeup, crop_box(head_box(face), w, h, 0.1))
    result = create_restorer(
        session, RestorationSettings(model=DEFAULT_MODEL, device="cpu")
    ).restore_crop(crop, 512, 0.8, face_px=face.box.height)
    assert result.decision is not None and result.decision.action == "lanczos", result.reason
    assert not result.restored and result.strength == 0.0 and result.device == "none"
    ch, cw = crop.shape[:2]
    assert np.array_equal(result.image, lanczos(crop, fit_longest(cw, ch, 512)))
    assert result.reason and "blur 0." in result.reason  # says what it measured


def test_restore_leaves_a_sharp_portrait_as_it_is(closeup: Image) -> None:
    """`restore` at the image's own size keeps a sharp face exactly (100 % sharpness)."""
    result = restore_faces(closeup, RestorationSettings(device="cpu"), report=True)
    assert result.faces, "the close-up's face must be found"
    assert all(not f.result.restored for f in result.faces)
    assert np.array_equal(result.image, closeup)


def test_tiny_face_is_not_restored(closeup: Image, session: ModelSession) -> None:
    small = _area(_face_crop(closeup, CLOSEUP_BOX), CLOSEUP_BOX.height / 24)  # face 24 px
    result = create_restorer(
        session, RestorationSettings(model=DEFAULT_MODEL, device="cpu")
    ).restore_crop(small, 512, 0.8, face_px=24.0)
    assert result.decision is not None and result.decision.action == "lanczos"
    assert result.reason and f"{MIN_FACE_PX} px minimum" in result.reason
    assert session.loaded() == [] or not result.restored


def test_blurred_64px_face_is_restored_and_closer_to_the_truth(
    closeup: Image, session: ModelSession
) -> None:
    truth = _face_crop(closeup, CLOSEUP_BOX)
    factor = CLOSEUP_BOX.height / 64
    low = np.asarray(cv2.GaussianBlur(_area(truth, factor), (0, 0), 1.0), dtype=np.uint8)
    assert blur_index(low) > blur_index(_area(truth, factor))
    target = max(truth.shape[:2])
    result = create_restorer(
        session, RestorationSettings(model=DEFAULT_MODEL, device="cpu")
    ).restore_crop(low, target, 0.8, face_px=64.0)
    assert result.decision is not None and result.decision.action == "restore", result.reason
    assert result.restored and 0 < result.strength <= 0.8 and result.device == "cpu"
    assert result.model_input == (low.shape[1], low.shape[0])  # native size, never shrunk
    size = (truth.shape[1], truth.shape[0])
    plain = lanczos(low, size)
    out = lanczos(result.image, size) if result.image.shape != truth.shape else result.image
    assert psnr(out, truth) > psnr(plain, truth)
    assert ssim(out, truth) > ssim(plain, truth)
    assert result.departure_db is not None and result.departure_db < 60


def test_strength_is_a_cap_and_always_runs_every_face(session: ModelSession) -> None:
    portrait = np.asarray(PILImage.open(IMAGES / "whole/lowres_portrait_b.jpg").convert("RGB"))
    crop = np.ascontiguousarray(portrait[30:174, 103:204])  # a 144 px face, JPEG-soft
    restorer = create_restorer(session, RestorationSettings(model=DEFAULT_MODEL, device="cpu"))
    capped = restorer.restore_crop(crop, 512, 0.1, face_px=144.0)
    assert capped.strength <= 0.1
    always = restorer.restore_crop(crop, 512, 0.8, face_px=144.0, policy="always")
    assert always.restored and always.strength == 0.8
    assert always.decision is not None and always.decision.policy == "always"


def test_policy_table_decisions_without_the_model() -> None:
    auto, always = Policy("auto", 0.8), Policy("always", 0.8)
    big = FaceFeatures(face_px=200, factor=1.0, blur=0.5, input_side=320)
    assert auto.decide(big).action == "lanczos"
    tiny = FaceFeatures(face_px=20, factor=8.0, blur=0.8, input_side=32)
    assert auto.decide(tiny).action == "lanczos"
    assert always.decide(tiny).action == "restore"
    huge = FaceFeatures(face_px=300, factor=2.0, blur=0.9, input_side=MAX_MODEL_INPUT + 100)
    assert auto.decide(huge).action == "lanczos" and "(cost)" in auto.decide(huge).reason
    light = FaceFeatures(face_px=120, factor=2.0, blur=0.6, input_side=LIGHT_TOUCH_MAX_INPUT)
    assert auto.decide(light).action == "restore" and auto.decide(light).strength == 0.25
    wide = FaceFeatures(face_px=120, factor=1.8, blur=0.6, input_side=LIGHT_TOUCH_MAX_INPUT + 30)
    assert auto.decide(wide).action == "lanczos" and "(cost)" in auto.decide(wide).reason
    big_crisp = FaceFeatures(face_px=200, factor=2.0, blur=0.6, input_side=250)
    assert auto.decide(big_crisp).action == "lanczos"
    blurred = FaceFeatures(face_px=200, factor=1.0, blur=0.75, input_side=300)
    assert auto.decide(blurred).action == "restore" and auto.decide(blurred).strength == 0.5
    shrunk = always.decide(huge)
    assert shrunk.action == "restore" and shrunk.input_side == MAX_MODEL_INPUT
    assert Policy("auto", 0.0).decide(big).action == "lanczos"


def test_face_features_measure_the_crop(closeup: Image) -> None:
    crop = _face_crop(closeup, CLOSEUP_BOX)
    features = face_features(crop, CLOSEUP_BOX.height, 512)
    assert features.input_side == max(crop.shape[:2])
    assert features.factor == pytest.approx(512 / max(crop.shape[:2]))
    blurred = np.asarray(cv2.GaussianBlur(crop, (0, 0), 2.0), dtype=np.uint8)
    assert face_features(blurred, CLOSEUP_BOX.height, 512).blur > features.blur + 0.05


def test_report_records_every_face(closeup: Image, session: ModelSession) -> None:
    restoration = FaceRestoration(session=session)
    small = _area(closeup, 4)  # a 160 x 90 frame: the face about 60 px
    result = restoration.restore(small, RestorationSettings(device="cpu", upscale=4))
    assert result.image.shape == (small.shape[0] * 4, small.shape[1] * 4, 3)
    assert result.faces
    for face in result.faces:
        record = face.record()
        assert record["decision"] in ("restore", "lanczos")
        assert record["restored"] == (record["decision"] == "restore")
        assert record["factor"] == pytest.approx(4.0, rel=0.02)
        assert record["reason"] and record["face_px"] > 0 and 0 <= record["blur"] <= 1


def test_an_estimated_face_size_is_said_in_the_record(closeup: Image) -> None:
    tiny = _area(_face_crop(closeup, CLOSEUP_BOX), 10)  # no face size given: estimated
    result = create_restorer(
        ModelSession(), RestorationSettings(model=DEFAULT_MODEL, device="cpu")
    ).restore_crop(tiny, 512, 0.8)
    record = result.record()
    assert record["face_px_estimated"] is True and record["decision"] == "lanczos"
    assert result.reason and "estimated from the crop" in result.reason
