"""BlazeFace (mediapipe's face detection models) on LiteRT, with mediapipe's processing.

A port of what mediapipe 0.10.21's ``FaceDetectionShortRangeCpu`` /
``FaceDetectionFullRangeCpu`` graphs do around the ``.tflite`` model. This module owns
the two models' settings (:class:`BlazeFaceSpec`) and the graph's order; the
calculators themselves are shared with the BlazePose port:

1. ``ImageToTensorCalculator`` (:mod:`.letterbox`): the whole image letterboxed into
   the model input (keep aspect ratio, zero border), values in -1..1.
2. ``SsdAnchorsCalculator`` (:mod:`.ssd`): anchor centres on the model's feature maps.
3. ``TensorsToDetectionsCalculator`` (:mod:`.ssd`): box and 6 keypoints decoded
   against the anchors (scale = input size), score = sigmoid(clip(logit, +-100)).
4. ``NonMaxSuppressionCalculator`` (:mod:`.ssd`, WEIGHTED, IoU > 0.3).
5. ``DetectionProjectionCalculator``: for the unrotated whole-image ROI, the letterbox
   removal of :mod:`.letterbox`; coordinates relative to the image (0..1, may fall
   outside).

Keypoints are in mediapipe's order: the person's right eye, left eye, nose tip, mouth
centre, right ear tragion, left ear tragion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..models.cache import model_file
from ..types import Image
from . import ssd
from ._litert import DEFAULT_THREADS, load_interpreter, output_index
from .letterbox import WHOLE_IMAGE, image_to_tensor

NUM_KEYPOINTS = 6
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS
INPUT_RANGE = (-1.0, 1.0)


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One face detection model and its graph's settings (mediapipe's options)."""

    model_id: str  # catalogue id
    input_size: int  # square input side, px; also the x/y/w/h decoding scale
    strides: tuple[int, ...]  # one per SSD layer
    interpolated_scale_aspect_ratio: float  # > 0: a second anchor per cell
    num_anchors: int  # expected from the model's output shape
    graph_min_score: float  # the graph's own default (the project passes its own)


SHORT_RANGE = BlazeFaceSpec(
    model_id="blazeface-short-range",
    input_size=128,
    strides=(8, 16, 16, 16),
    interpolated_scale_aspect_ratio=1.0,
    num_anchors=896,
    graph_min_score=0.5,
)
FULL_RANGE = BlazeFaceSpec(
    model_id="blazeface-full-range",
    input_size=192,
    strides=(4,),
    interpolated_scale_aspect_ratio=0.0,
    num_anchors=2304,
    graph_min_score=0.6,
)


@dataclass(frozen=True)
class RawFace:
    """One detection, relative to the image (0..1 of its width / height).

    ``box`` is xmin, ymin, xmax, ymax; ``keypoints`` 6 x (x, y) in mediapipe's order.
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: tuple[tuple[float, float], ...]


class BlazeFace:
    """One BlazeFace model on LiteRT: ``detect(image)`` -> faces relative to the image."""

    def __init__(
        self,
        spec: BlazeFaceSpec,
        *,
        who: str = "blazeface",
        model_path: Path | None = None,
        num_threads: int = DEFAULT_THREADS,
    ) -> None:
        self.spec = spec
        self.model_path = model_path if model_path is not None else model_file(spec.model_id)
        self._interpreter: Any = load_interpreter(self.model_path, who, num_threads)
        self._input = int(self._interpreter.get_input_details()[0]["index"])
        self._boxes = output_index(self._interpreter, spec.num_anchors * NUM_COORDS, who)
        self._scores = output_index(self._interpreter, spec.num_anchors, who)
        self.anchors = ssd.anchor_centres(
            spec.input_size,
            spec.strides,
            interpolated_scale_aspect_ratio=spec.interpolated_scale_aspect_ratio,
        )
        if len(self.anchors) != spec.num_anchors:  # pragma: no cover - a spec error
            raise AssertionError(f"{len(self.anchors)} anchors for {spec.num_anchors} outputs")

    def detect(self, image: Image, min_score: float) -> list[RawFace]:
        """Faces in an RGB uint8 image with score >= ``min_score``, best first."""
        size = self.spec.input_size
        tensor, letterbox = image_to_tensor(
            image, WHOLE_IMAGE, size, INPUT_RANGE, cv2.BORDER_CONSTANT
        )
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes)
        raw_scores = self._interpreter.get_tensor(self._scores)
        rows, scores = ssd.decode(raw_boxes, raw_scores, self.anchors, size, min_score)
        faces = []
        for score, merged in ssd.weighted_nms(rows, scores):
            values = merged.astype(np.float64)  # removed in float64, as BlazePose's
            xs, ys = letterbox.remove(values[0::2], values[1::2])
            faces.append(
                RawFace(
                    score=score,
                    box=(float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])),
                    keypoints=tuple(
                        (float(x), float(y)) for x, y in zip(xs[2:], ys[2:], strict=True)
                    ),
                )
            )
        return faces
