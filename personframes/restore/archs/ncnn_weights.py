"""Read the convolution weights of an ncnn .param/.bin pair into a PyTorch state dict.

Works for plain conv nets exported layer by layer (Real-ESRGAN's RRDBNet): the
ncnn Convolution layers, in file order, map one to one onto the network's
Conv2d modules in registration order. fp16-tagged and fp32 weights are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

_TAG_FP16 = 0x01306B47
_TAG_FP32 = 0x00000000


def _conv_layers(param: Path) -> list[dict[int, str]]:
    layers = []
    lines = param.read_text(encoding="utf-8").split("\n")
    if not lines or lines[0].strip() != "7767517":
        raise ValueError(f"{param}: not an ncnn .param file")
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


def ncnn_state_dict(param: Path, weights: Path, module: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict for ``module`` built from the ncnn files; ValueError on any mismatch."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    names = {id(m): n for n, m in module.named_modules()}
    layers = _conv_layers(param)
    if len(layers) != len(convs):
        raise ValueError(f"{param}: {len(layers)} convolutions, the network has {len(convs)}")
    blob = weights.read_bytes()
    offset = 0
    state: dict[str, torch.Tensor] = {}
    for conv, params in zip(convs, layers, strict=True):
        count = int(params.get(6, "0"))
        out_ch = int(params.get(0, "0"))
        if count != conv.weight.numel() or out_ch != conv.out_channels:
            raise ValueError(f"{param}: layer shape does not match {names[id(conv)]}")
        tag = int(np.frombuffer(blob, np.uint32, 1, offset)[0])
        offset += 4
        if tag == _TAG_FP16:
            w = np.frombuffer(blob, np.float16, count, offset).astype(np.float32)
            offset += (count * 2 + 3) // 4 * 4
        elif tag == _TAG_FP32:
            w = np.frombuffer(blob, np.float32, count, offset).copy()
            offset += count * 4
        else:
            raise ValueError(f"{weights}: unsupported weight storage tag {tag:#x}")
        name = names[id(conv)]
        state[f"{name}.weight"] = torch.from_numpy(w.reshape(conv.weight.shape))
        if conv.bias is not None:
            if params.get(5, "0") != "1":
                raise ValueError(f"{param}: {name} has no bias in the ncnn file")
            b = np.frombuffer(blob, np.float32, out_ch, offset).copy()
            offset += out_ch * 4
            state[f"{name}.bias"] = torch.from_numpy(b)
    if offset != len(blob):
        raise ValueError(f"{weights}: {len(blob) - offset} bytes left over")
    return state
