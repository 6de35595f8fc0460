"""Read the convolutions of an ncnn .param/.bin pair as numpy arrays (no torch).

Works for plain conv nets exported layer by layer (Real-ESRGAN's RRDBNet): each
ncnn ``Convolution`` layer, in file order, gives one weight (out, in, k, k) and its
bias. fp16-tagged and fp32 weights are read; anything else is a ValueError naming
the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TAG_FP16 = 0x01306B47
_TAG_FP32 = 0x00000000


@dataclass(frozen=True)
class Conv:
    weight: np.ndarray  # float32 (out, in, k, k)
    bias: np.ndarray | None  # float32 (out,)


def _conv_params(param: Path) -> list[dict[int, str]]:
    lines = param.read_text(encoding="utf-8").split("\n")
    if not lines or lines[0].strip() != "7767517":
        raise ValueError(f"{param}: not an ncnn .param file")
    layers = []
    for line in lines[2:]:
        fields = line.split()
        if not fields or fields[0] != "Convolution":
            continue
        n_in, n_out = int(fields[2]), int(fields[3])
        params: dict[int, str] = {}
        for item in fields[4 + n_in + n_out :]:
            key, _, value = item.partition("=")
            if key.lstrip("-").isdigit():
                params[int(key)] = value
        layers.append(params)
    return layers


def read_convs(param: Path, weights: Path) -> list[Conv]:
    """Every convolution of the pair, in file order; ValueError on any inconsistency."""
    blob = weights.read_bytes()
    offset = 0
    convs = []
    for params in _conv_params(param):
        out_ch = int(params.get(0, "0"))
        kernel = int(params.get(1, "0"))
        count = int(params.get(6, "0"))
        if out_ch <= 0 or kernel <= 0 or count % (out_ch * kernel * kernel):
            raise ValueError(f"{param}: a convolution with an inconsistent shape")
        if offset + 4 > len(blob):
            raise ValueError(f"{weights}: ends before its weights do")
        tag = int(np.frombuffer(blob, np.uint32, 1, offset)[0])
        offset += 4
        if tag == _TAG_FP16:
            size = (count * 2 + 3) // 4 * 4
            dtype: type[np.floating] = np.float16
        elif tag == _TAG_FP32:
            size = count * 4
            dtype = np.float32
        else:
            raise ValueError(f"{weights}: unsupported weight storage tag {tag:#x}")
        if offset + size > len(blob):
            raise ValueError(f"{weights}: ends before its weights do")
        w = np.frombuffer(blob, dtype, count, offset).astype(np.float32)
        offset += size
        bias = None
        if params.get(5, "0") == "1":
            if offset + out_ch * 4 > len(blob):
                raise ValueError(f"{weights}: ends before its weights do")
            bias = np.frombuffer(blob, np.float32, out_ch, offset).copy()
            offset += out_ch * 4
        shape = (out_ch, count // (out_ch * kernel * kernel), kernel, kernel)
        convs.append(Conv(w.reshape(shape), bias))
    if offset != len(blob):
        raise ValueError(f"{weights}: {len(blob) - offset} bytes left over")
    return convs
