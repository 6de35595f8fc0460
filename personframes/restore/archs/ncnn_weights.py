"""Load the convolutions of an ncnn .param/.bin pair into a PyTorch module's state dict.

The ncnn Convolution layers, in file order, map one to one onto the network's Conv2d
modules in registration order (:mod:`personframes.restore.ncnn_convs` reads them).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..ncnn_convs import read_convs


def ncnn_state_dict(param: Path, weights: Path, module: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict for ``module`` built from the ncnn files; ValueError on any mismatch."""
    modules = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Conv2d)]
    convs = read_convs(param, weights)
    if len(convs) != len(modules):
        raise ValueError(f"{param}: {len(convs)} convolutions, the network has {len(modules)}")
    state: dict[str, torch.Tensor] = {}
    for (name, conv), read in zip(modules, convs, strict=True):
        if read.weight.shape != tuple(conv.weight.shape):
            raise ValueError(f"{param}: layer shape does not match {name}")
        state[f"{name}.weight"] = torch.from_numpy(read.weight)
        if conv.bias is not None:
            if read.bias is None:
                raise ValueError(f"{param}: {name} has no bias in the ncnn file")
            state[f"{name}.bias"] = torch.from_numpy(read.bias)
    return state
