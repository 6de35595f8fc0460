"""Face identity: a 128-d embedding per face (dlib's ResNet face recognition model).

The model files (Davis King's dlib models, CC0 1.0) are bundled in this package
(``personframes/models/bundled/``) and run on ``dlib-bin``'s prebuilt wheels: nothing
is downloaded.
A face is aligned the way the model was trained: dlib's 5-point shape predictor
(eye corners and the base of the nose) places the landmarks inside the detector's
box, and ``get_face_chip`` cuts a 150 px chip (25 % padding) from them.

Two embeddings of one person lie closer together (Euclidean distance) than those of
two people; dlib publishes 0.6 as its threshold on LFW (99.38 %). The thresholds
personframes uses were measured on the shared videos (``bench/identity.py``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ModelError
from ..models.cache import resolve_model
from ..models.catalogue import get_model
from ..models.session import ModelSession
from ..types import Box, Image

MODEL_ID = "dlib-face-resnet-v1"  # catalogue id
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
CHIP_SIZE = 150  # the model's input side
CHIP_PADDING = 0.25
EMBEDDING_SIZE = 128

# Faces turned further than this get no embedding: dlib's model was trained on faces
# that show both eyes; on the labelled frames every profile's chip was a cut-off
# cheek, and one woman's profiles lay up to 0.97 from her frontal faces.
MAX_YAW = 45.0

Embedding = npt.NDArray[np.float32]


def identity_eligible(yaw: float | None) -> bool:
    """True for a face turned toward the camera enough for an identity embedding."""
    return yaw is not None and abs(yaw) <= MAX_YAW


def identity_distance(a: Embedding, b: Embedding) -> float:
    """Euclidean distance of two embeddings (dlib's measure: 0 = the same face)."""
    return float(np.linalg.norm(a.astype(np.float32) - b.astype(np.float32)))


class IdentityUnavailable(ModelError):
    """dlib cannot be imported on this platform: the one case where the pipeline goes
    on without face identity (a counted fallback). A damaged or missing model file is
    a plain ModelError: it stops the run with the repair command, as for every model."""


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise IdentityUnavailable(
            "face identity needs dlib: `pip install dlib-bin==20.0.1.post1` "
            f"(it has no wheel for every platform): {exc}"
        ) from None
    return dlib


class FaceEmbedder:
    """128-d identity embedding of a face given its box in an RGB image.

    dlib's objects are not documented as thread-safe: use one per thread
    (``ModelSession.face_embedder`` does).
    """

    NAME = MODEL_ID

    def __init__(self, cache_dir: Path | str | None = None) -> None:
        dlib = _import_dlib()
        resolved = resolve_model(get_model(MODEL_ID), cache_dir)  # SHA-256 checked
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(resolved.paths[SHAPE_FILE]))
        self._net = dlib.face_recognition_model_v1(str(resolved.paths[RECOGNITION_FILE]))
        self._lock = threading.Lock()

    def embed(self, image: Image, box: Box) -> Embedding:
        """The embedding of the face in ``box`` (full-image pixels) of RGB ``image``."""
        height, width = image.shape[:2]
        clipped = box.clip(width, height)
        if clipped.width < 2 or clipped.height < 2:
            raise ValueError(f"face box {box.as_xywh()} lies outside the {width}x{height} image")
        rgb = np.ascontiguousarray(image)
        rect = self._dlib.rectangle(round(box.x1), round(box.y1), round(box.x2), round(box.y2))
        with self._lock:
            shape = self._shape(rgb, rect)
            chip = self._dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
            vector = self._net.compute_face_descriptor(chip)
        return np.asarray(vector, dtype=np.float32)


def face_embedder(session: ModelSession) -> FaceEmbedder:
    """The face identity model for the calling thread, made once per session and thread."""
    return session.cached(
        ("face_embedder", threading.get_ident()), lambda: FaceEmbedder(session.cache_dir)
    )
