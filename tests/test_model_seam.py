"""The model seam: one session cache, per-thread detectors, engine failures versus bugs,
face models aligned by the scan's keypoints."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from personframes.detect import face_detector
from personframes.devices import choose_device
from personframes.errors import ModelError
from personframes.models.cache import ResolvedModel, model_file
from personframes.models.catalogue import CATALOGUE, get_model
from personframes.models.session import ModelSession
from personframes.restore.engines.base import Engine, EngineFailure
from personframes.restore.loading import add_engine
from personframes.restore.loading import engine as load_engine
from personframes.restore.restorer import FaceRestorer, create_restorer
from personframes.restore.settings import RestorationSettings
from personframes.types import Image

from .util import SHARED


def _face() -> Image:
    from PIL import Image as PILImage

    path = SHARED / "images/faces/aligned_0143.png"
    big = PILImage.open(path).convert("RGB").resize((96, 96), PILImage.Resampling.LANCZOS)
    return np.asarray(big)


def test_every_detector_file_is_a_catalogue_entry_with_its_pin() -> None:
    path = model_file("centerface")
    assert path.name == "centerface.onnx" and get_model("centerface").kind == "face-detector"
    kinds = {s.kind for s in CATALOGUE.values()}
    assert {"sr", "face", "face-detector", "face-landmarks", "body-pose"} <= kinds
    with pytest.raises(ModelError, match="has 2 files"):
        model_file("blazepose-full")


def test_detectors_are_one_per_thread_engines_one_per_session() -> None:
    session = ModelSession()
    settings = {"confidence": 0.4, "max_side": 320, "device": "cpu"}
    mine = face_detector(session, "centerface", **settings)
    assert face_detector(session, "centerface", **settings) is mine
    theirs: list[object] = []
    worker = threading.Thread(
        target=lambda: theirs.append(face_detector(session, "centerface", **settings))
    )
    worker.start()
    worker.join()
    assert theirs and theirs[0] is not mine  # detectors are not thread-safe: never shared
    assert load_engine(session, "realesrgan-x4plus", "cpu") is load_engine(
        session, "realesrgan-x4plus", "cpu"
    )


class _Failing(Engine):
    """An engine whose inference raises ``error``: what a backend (RuntimeError,
    MemoryError) or a bug (ValueError) would raise; no real engine fails on demand."""

    NAME = "failing"

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def load(self, model: ResolvedModel, device: str = "auto") -> None:  # type: ignore[override]
        self.model = model

    def _infer(self, image: Image, fidelity: float | None) -> Image:
        raise self.error


def _failing(error: Exception, model_id: str = "realesrgan-x4plus") -> Engine:
    engine = _Failing(error)
    engine.load(ResolvedModel(get_model(model_id), {}))
    return engine


def _restorer_with(error: Exception) -> FaceRestorer:
    session = ModelSession()
    add_engine(session, "realesrgan-x4plus", "cpu", _failing(error))
    return create_restorer(
        session, RestorationSettings(model="realesrgan-x4plus", device="cpu", policy="always")
    )


def test_a_backend_failure_falls_back_but_a_bug_propagates() -> None:
    crop = _face()[:40, :40].copy()
    result = _restorer_with(RuntimeError("ncnn extract failed with code -100")).restore_crop(
        crop, 160, 0.8, face_px=40.0
    )
    assert result.fell_back and "ncnn extract failed" in str(result.reason)
    with pytest.raises(ValueError, match="a bug"):
        _restorer_with(ValueError("a bug")).restore_crop(crop, 160, 0.8, face_px=40.0)
    with pytest.raises(EngineFailure, match="failing failed on a 40x40 input: MemoryError"):
        _failing(MemoryError()).run(crop)


def test_device_rule_keeps_the_reason_only_when_a_gpu_was_asked_for() -> None:
    def missing() -> str:
        return "no GPU here"

    assert choose_device("cpu", "m", missing).fallback is None
    auto = choose_device("auto", "m", missing)
    assert not auto.gpu and auto.fallback is None
    asked = choose_device("gpu", "m", missing)
    assert not asked.gpu and asked.fallback == "GPU requested but no GPU here; running on the CPU"
    assert choose_device("gpu", "m", lambda: None).gpu
    with pytest.raises(ValueError, match="unknown device"):
        choose_device("tpu", "m", missing)


def test_face_models_without_keypoints_or_detector_fall_back(tmp_path: Path) -> None:
    """A face model is given the scan's keypoints; without them and without a detector
    there is nothing to align by, and the crop falls back (it never guesses)."""
    session = ModelSession(tmp_path)
    add_engine(session, "codeformer", "cpu", _failing(RuntimeError("not reached"), "codeformer"))
    restorer = create_restorer(
        session, RestorationSettings(model="codeformer", device="cpu", policy="always")
    )
    result = restorer.restore_crop(_face(), 512, 0.8, face_px=60.0)
    assert result.fell_back and result.reason == "no face keypoints for the face model"
