"""Real-ESRGAN's RRDBNet as an ONNX graph, built from its convolutions (serialised by
:mod:`personframes.restore.onnx_proto`: the ``onnx`` package is not needed).

``personframes models tune`` saves the graph in the model cache
(:mod:`personframes.models.derived`); without a saved copy it is built in memory. ONNX
Runtime and OpenVINO run it without torch. Input ``data`` and output ``output`` are
float32 NCHW in [0, 1] with any height and width (the output 4x larger, clamped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..models.cache import ResolvedModel
from ..models.derived import save_file, saved_file
from . import onnx_proto
from .ncnn_convs import Conv, read_convs

log = logging.getLogger(__name__)

NUM_BLOCKS = 23
CONVS = 1 + NUM_BLOCKS * 15 + 5  # conv_first, 23 RRDBs of 3x5, conv_body, up1, up2, hr, last
OPSET = 17
IR_VERSION = 8


class _Graph:
    def __init__(self, convs: list[Conv]) -> None:
        if len(convs) != CONVS:
            raise ValueError(f"RRDBNet needs {CONVS} convolutions, got {len(convs)}")
        self._convs: Iterator[Conv] = iter(convs)
        self.nodes: list[onnx_proto.Node] = []
        self.weights: list[bytes] = []  # serialised TensorProto
        self._count = 0

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}{self._count}"

    def const(self, value: np.ndarray) -> str:
        name = self._name("c")
        self.weights.append(onnx_proto.tensor(name, value))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: onnx_proto.AttributeValue) -> str:
        out = self._name(kind.lower())
        self.nodes.append(onnx_proto.Node.make(kind, inputs, [out], **attrs))
        return out

    def conv(self, x: str, lrelu: bool = False) -> str:
        conv = next(self._convs)
        k = conv.weight.shape[-1]
        inputs = [x, self.const(conv.weight)]
        if conv.bias is not None:
            inputs.append(self.const(conv.bias))
        y = self.op("Conv", inputs, kernel_shape=[k, k], pads=[k // 2] * 4)
        return self.op("LeakyRelu", [y], alpha=0.2) if lrelu else y

    def scaled_add(self, x: str, residual: str) -> str:
        return self.op(
            "Add", [self.op("Mul", [x, self.const(np.array(0.2, np.float32))]), residual]
        )

    def dense_block(self, x: str) -> str:
        features = [x]
        for _ in range(4):
            cat = self.op("Concat", features, axis=1) if len(features) > 1 else x
            features.append(self.conv(cat, lrelu=True))
        return self.scaled_add(self.conv(self.op("Concat", features, axis=1)), x)

    def upsample(self, x: str) -> str:
        scales = self.const(np.array([1, 1, 2, 2], np.float32))
        return self.op(
            "Resize",
            [x, "", scales],
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )


def rrdbnet_onnx(convs: list[Conv]) -> bytes:
    """The serialised ONNX model of an x4 RRDBNet (64 features, 23 blocks, growth 32)
    with the given convolutions in the official registration order."""
    g = _Graph(convs)
    feat = g.conv("data")
    body = feat
    for _ in range(NUM_BLOCKS):
        block_in = body
        for _ in range(3):
            body = g.dense_block(body)
        body = g.scaled_add(body, block_in)
    feat = g.op("Add", [feat, g.conv(body)])
    feat = g.conv(g.upsample(feat), lrelu=True)
    feat = g.conv(g.upsample(feat), lrelu=True)
    out = g.conv(g.conv(feat, lrelu=True))
    lo, hi = g.const(np.array(0.0, np.float32)), g.const(np.array(1.0, np.float32))
    g.nodes.append(onnx_proto.Node.make("Clip", [out, lo, hi], ["output"]))
    return onnx_proto.model(
        g.nodes,
        "rrdbnet_x4",
        [onnx_proto.value_info("data", ["n", 3, "h", "w"])],
        [onnx_proto.value_info("output", ["n", 3, "h4", "w4"])],
        g.weights,
        opset=OPSET,
        ir_version=IR_VERSION,
        producer_name="personframes",
    )


BUILDER = "personframes rrdbnet_onnx 1"
GRAPH_FILE = "rrdbnet-x4.onnx"


def _build(model: ResolvedModel) -> bytes:
    try:
        return rrdbnet_onnx(read_convs(model.path(".param"), model.path(".bin")))
    except ValueError as exc:
        raise ModelError(
            f"cannot build {model.spec.id}'s ONNX graph ({exc}): repair it with "
            f"`{model.spec.fetch_command}`"
        ) from None


def rrdbnet_graph(model: ResolvedModel) -> Path | bytes:
    """The ONNX graph of an RRDBNet model with ncnn files: the copy saved in the model
    cache when it is there and intact, else built now in memory (about 1 s)."""
    saved = saved_file(model, GRAPH_FILE, BUILDER)
    if saved is not None:
        return saved
    log.debug("%s: building its ONNX graph in memory", model.spec.id)
    return _build(model)


def save_rrdbnet_graph(model: ResolvedModel) -> Path:
    """Build the graph into the model cache (its SHA-256 recorded beside it), unless an
    intact copy is there."""
    saved = saved_file(model, GRAPH_FILE, BUILDER)
    return saved if saved is not None else save_file(model, GRAPH_FILE, BUILDER, _build(model))
