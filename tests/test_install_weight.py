"""Install weight: only what runs is installed (issue 27 item 5).

The two CC0 dlib identity models ship in the package (not the face_recognition_models
package and its unused 99 MB 68-point predictor), and Real-ESRGAN's ONNX graph is
serialised without the ``onnx`` package, byte for byte as ``onnx.helper`` wrote it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from personframes.detect.face_identity import RECOGNITION_FILE, SHAPE_FILE, FaceEmbedder
from personframes.models import get_model, resolve_model
from personframes.models.bundled import BUNDLED_DIR
from personframes.restore.engines import create_engine
from personframes.types import Box

from .util import IMAGES, REPO

# The pinned SHA-256 of the two files as face_recognition_models 0.3.0 installed them.
IDENTITY_SHA256 = {
    RECOGNITION_FILE: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    SHAPE_FILE: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
}
# rrdbnet_onnx() on realesrgan-x4plus's weights as built with onnx 1.23.2's helper,
# numpy_helper and SerializeToString (recorded before the onnx package was dropped).
X4PLUS_GRAPH_SHA256 = "e8d5d1950d20aef829a5a28e8b9f1d5d26eaa929d5a477c7d38c2fa52efb334f"
X4PLUS_GRAPH_SIZE = 66880289


def _distribution_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def test_identity_models_load_from_the_bundled_folder_with_their_checked_sha256() -> None:
    spec = get_model("dlib-face-resnet-v1")
    assert all(f.bundled and f.package is None for f in spec.files)
    resolved = resolve_model(spec)  # bundled files: SHA-256 checked once per process
    assert resolved.paths == {name: BUNDLED_DIR / name for name in IDENTITY_SHA256}
    for name, digest in IDENTITY_SHA256.items():
        assert hashlib.sha256((BUNDLED_DIR / name).read_bytes()).hexdigest() == digest
    licence = (BUNDLED_DIR / "LICENSE-dlib-models-CC0-1.0.txt").read_text(encoding="utf-8")
    assert licence.startswith("CC0 1.0 Universal")
    notice = (BUNDLED_DIR / "NOTICE").read_text(encoding="utf-8")
    assert all(name in notice for name in IDENTITY_SHA256)
    assert not (BUNDLED_DIR / "shape_predictor_68_face_landmarks.dat").exists()
    # The embedder runs from them on a real face.
    bgr = cv2.imread(str(IMAGES / "faces" / "aligned_0240.png"))
    embedding = FaceEmbedder().embed(np.ascontiguousarray(bgr[:, :, ::-1]), Box(96, 96, 416, 450))
    assert embedding.shape == (128,) and np.isfinite(embedding).all()


def test_installed_metadata_needs_neither_face_recognition_models_nor_onnx() -> None:
    requires = importlib.metadata.requires("personframes") or []
    names = {_distribution_name(r) for r in requires if "extra ==" not in r}
    assert "face-recognition-models" not in names
    assert "onnx" not in names
    assert {"dlib-bin", "onnxruntime", "ncnn", "ai-edge-litert", "av"} <= names


# Run where ``import onnx`` fails: the graph is built and written to a file, and the
# ONNX Runtime engine is still available (it once listed onnx among what it needs).
_WITHOUT_ONNX = """
import json, sys
sys.modules["onnx"] = None  # import onnx raises ImportError
from pathlib import Path
from personframes.models import get_model, resolve_model
from personframes.restore.engines.base import engine_available
from personframes.restore.ncnn_convs import read_convs
from personframes.restore.rrdbnet_onnx import rrdbnet_onnx
model = resolve_model(get_model("realesrgan-x4plus"))
Path(sys.argv[1]).write_bytes(rrdbnet_onnx(read_convs(model.path(".param"), model.path(".bin"))))
print(json.dumps({"onnxruntime": engine_available("onnxruntime")}))
"""


@pytest.fixture(scope="module")
def graph_without_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """realesrgan-x4plus's ONNX graph, built by a process that cannot import onnx."""
    path = tmp_path_factory.mktemp("graph") / "rrdbnet-x4.onnx"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_ONNX, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"onnxruntime": True}
    return path


def test_the_graph_built_without_onnx_has_onnx_helpers_bytes(graph_without_onnx: Path) -> None:
    data = graph_without_onnx.read_bytes()
    assert len(data) == X4PLUS_GRAPH_SIZE
    assert hashlib.sha256(data).hexdigest() == X4PLUS_GRAPH_SHA256


def test_onnx_runtime_runs_it_on_a_real_face_as_ncnn_does(graph_without_onnx: Path) -> None:
    """Identical bytes give identical ONNX Runtime outputs; this also checks that the
    graph computes what the ncnn engine computes from the same weights, on a real face."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(
        str(graph_without_onnx), options, providers=["CPUExecutionProvider"]
    )
    bgr = cv2.imread(str(IMAGES / "faces" / "aligned_0368.png"))
    face = np.ascontiguousarray(cv2.resize(bgr[:, :, ::-1], (32, 32), interpolation=cv2.INTER_AREA))
    x = np.ascontiguousarray(face.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    (out,) = session.run(["output"], {"data": x})
    assert out.shape == (1, 3, 128, 128) and out.min() >= 0.0 and out.max() <= 1.0
    ours = np.clip(np.rint(out[0].transpose(1, 2, 0) * 255.0), 0, 255).astype(np.int16)
    ncnn = create_engine("ncnn")
    ncnn.load(resolve_model(get_model("realesrgan-x4plus")), "cpu")
    assert np.abs(ours - ncnn.run(face).astype(np.int16)).max() <= 2
