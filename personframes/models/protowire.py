"""Protocol-buffer varints, the one piece of the wire format that both the ONNX graph
writer (``restore/onnx_proto.py``) and the ONNX reader (``detect/_onnx_dims.py``) need."""

from __future__ import annotations


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint (a negative int32/int64: ten bytes of two's
    complement, as protobuf writes it)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
