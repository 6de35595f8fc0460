"""ARCHITECTURE.md's "A restoration engine" recipe, followed once: ``opencv`` (OpenCV's
DNN module running the ONNX graph of Real-ESRGAN that the onnxruntime engine runs), on
a real face. tests/test_restore_engines.py runs it through every engine's contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.models import get_model, resolve_model
from personframes.resize import lanczos
from personframes.restore.engine_choice import (
    Candidate,
    Trial,
    candidates,
    fastest,
    reference_for,
)
from personframes.restore.engines import available_engines, create_engine
from personframes.restore.metrics import psnr
from personframes.types import Image

from .util import IMAGES, run_cli

FACE_SIDE = 64  # the engine choice's sample size: about 1 s of x4plus on two cores


def _face() -> Image:
    """A real face: a shared aligned 512 px face crop, shrunk to 64 px."""
    with PILImage.open(IMAGES / "faces" / "aligned_0143.png") as image:
        rgb = np.asarray(image.convert("RGB"))
    return lanczos(rgb, (FACE_SIDE, FACE_SIDE))


def test_available_engines_lists_opencv_for_the_rrdbnet_models() -> None:
    engine = available_engines().get("opencv")
    assert engine is not None and engine.NAME == "opencv"
    assert engine.PRECISIONS == ("fp32",)
    assert engine.supports(get_model("realesrgan-x4plus"))
    assert not engine.supports(get_model("realesr-animevideov3"))  # no graph for srvgg
    assert engine.gpu_missing() is not None


def test_the_engine_choice_leaves_opencv_out_unless_named() -> None:
    """opencv is a fallback, not a contender (``measured=False``): the once-per-machine
    choice does not try it, ``--restore-engine opencv`` runs it."""
    spec = get_model("realesrgan-x4plus")
    found, _ = candidates(spec, "auto", "fp32", bf16_native=False)
    assert Candidate("opencv", "fp32") not in found
    assert Candidate("ncnn", "fp32") in found
    named, _ = candidates(spec, "opencv", "fp32", bf16_native=False)
    assert named == [Candidate("opencv", "fp32")]
    reference = reference_for(spec, found)
    assert reference == Candidate("ncnn", "fp32")
    ncnn = Trial(reference, 1.0, 99.0)
    assert fastest([ncnn, Trial(Candidate("opencv", "fp32"), 0.81, 80.8)], reference) == reference


def test_a_graph_built_in_memory_gives_the_saved_graphs_output(tmp_path: Path) -> None:
    """A fresh model cache has no saved ONNX graph: the engine loads the one built in
    memory (the ncnn files come from their package) and computes the same pixels."""
    spec = get_model("realesrgan-x4plus")
    face = _face()
    outputs = []
    for cache in (None, tmp_path):
        engine = create_engine("opencv")
        engine.load(resolve_model(spec, cache), "cpu")
        assert engine.device == "cpu" and engine.precision == "fp32"
        outputs.append(engine.run(face))
    assert outputs[0].shape == (4 * FACE_SIDE, 4 * FACE_SIDE, 3)
    assert np.array_equal(outputs[0], outputs[1])


@pytest.fixture(scope="module")
def face_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("face") / "face.png"
    PILImage.fromarray(_face()).save(path)
    return path


def _restore(face: Path, engine: str, out: Path) -> Image:
    result = run_cli(
        "restore",
        str(face),
        "-o",
        str(out),
        "--aligned",
        "--upscale",
        "2",
        "--face-restoration-policy",
        "always",
        "--face-restoration-strength",
        "1",
        "--restore-engine",
        engine,
    )
    assert result.returncode == 0, result.stderr
    assert "restored at 1" in result.stderr, result.stderr
    with PILImage.open(out / face.name) as image:
        return np.asarray(image.convert("RGB"))


def test_restore_engine_opencv_restores_a_face_as_onnxruntime_does(
    face_png: Path, tmp_path: Path
) -> None:
    opencv = _restore(face_png, "opencv", tmp_path / "opencv")
    onnxruntime = _restore(face_png, "onnxruntime", tmp_path / "onnxruntime")
    assert opencv.shape == onnxruntime.shape == (2 * FACE_SIDE, 2 * FACE_SIDE, 3)
    assert psnr(opencv, onnxruntime) > 40.0
