"""The few ONNX protobuf messages a float32 graph needs, written without ``onnx``.

An ONNX model is a protobuf message (``onnx.proto``, proto2). A graph of float32
constants, nodes with int, float, string and int-list attributes, and typed inputs and
outputs needs six message types; this module writes them in protobuf's wire format
(fields in field-number order, as protobuf's own serialiser writes them), so a graph
built here has the same bytes as one built with ``onnx.helper`` and
``onnx.numpy_helper``. That saves installing the ``onnx`` package (31 MB) only to
serialise one graph. Field numbers are those of ``onnx.proto`` (IR version 8+);
``personframes.detect._onnx_dims`` edits a few of the same fields in a model's bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..models.protowire import varint as _varint

FLOAT = 1  # TensorProto.DataType.FLOAT, the only element type written here

AttributeValue = int | float | str | Sequence[int]
Dim = int | str | None  # a fixed size, a named (symbolic) size, or unknown

# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7
_VARINT, _FIXED32, _BYTES = 0, 5, 2


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + _varint(value)


def _float(field: int, value: float) -> bytes:
    return _key(field, _FIXED32) + struct.pack("<f", value)


def _bytes(field: int, value: bytes) -> bytes:
    return _key(field, _BYTES) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode("utf-8"))


def _each(field: int, messages: Iterable[bytes]) -> bytes:
    return b"".join(_bytes(field, m) for m in messages)


@dataclass(frozen=True)
class Node:
    """An operator: ``NodeProto`` with its attributes sorted by name (as
    ``onnx.helper.make_node`` sorts them)."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: tuple[tuple[str, AttributeValue], ...] = ()

    @classmethod
    def make(
        cls, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: AttributeValue
    ) -> Node:
        return cls(op_type, tuple(inputs), tuple(outputs), tuple(sorted(attrs.items())))

    def encode(self) -> bytes:
        return (
            b"".join(_str(1, name) for name in self.inputs)
            + b"".join(_str(2, name) for name in self.outputs)
            + _str(4, self.op_type)
            + _each(5, (_attribute(name, value) for name, value in self.attributes))
        )


def _attribute(name: str, value: AttributeValue) -> bytes:
    """``AttributeProto``: name (1), f (2), i (3), s (4), ints (8, unpacked), type (20)."""
    if isinstance(value, bool):
        raise TypeError(f"attribute {name}: bool is not an ONNX attribute type")
    if isinstance(value, int):
        return _str(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    if isinstance(value, float):
        return _str(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, str):
        return _str(1, name) + _str(4, value) + _int(20, _ATTR_STRING)
    ints = b"".join(_int(8, int(v)) for v in value)
    return _str(1, name) + ints + _int(20, _ATTR_INTS)


def tensor(name: str, array: np.ndarray) -> bytes:
    """``TensorProto`` of a float32 array: dims (1), data_type (2), name (8), raw_data
    (9, little-endian), as ``onnx.numpy_helper.from_array`` fills it."""
    if array.dtype != np.float32:
        raise TypeError(f"tensor {name}: only float32 is written, got {array.dtype}")
    raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, FLOAT) + _str(8, name) + _bytes(9, raw)


def value_info(name: str, shape: Sequence[Dim]) -> bytes:
    """``ValueInfoProto`` of a float32 tensor: name (1), type (2: TypeProto.tensor_type
    (1): elem_type (1), shape (2: TensorShapeProto.dim (1): dim_value (1) or dim_param
    (2), nothing for an unknown size))."""
    dims = []
    for d in shape:
        if d is None:
            dims.append(b"")
        elif isinstance(d, int):
            dims.append(_int(1, d))
        else:
            dims.append(_str(2, d))
    tensor_type = _int(1, FLOAT) + _bytes(2, _each(1, dims))
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    nodes: Sequence[Node],
    name: str,
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    initializers: Sequence[bytes],
    *,
    opset: int,
    ir_version: int,
    producer_name: str,
) -> bytes:
    """A serialised ``ModelProto``: ir_version (1), producer_name (2), graph (7:
    GraphProto node (1), name (2), initializer (5), input (11), output (12)),
    opset_import (8: the default domain, given as "" (1), version (2))."""
    graph = [
        _each(1, (n.encode() for n in nodes)),
        _str(2, name),
        _each(5, initializers),
        _each(11, inputs),
        _each(12, outputs),
    ]
    size = sum(len(part) for part in graph)
    return b"".join(  # one copy of the weights, not one per enclosing message
        [
            _int(1, ir_version),
            _str(2, producer_name),
            _key(7, _BYTES) + _varint(size),
            *graph,
            _bytes(8, _str(1, "") + _int(2, opset)),
        ]
    )
