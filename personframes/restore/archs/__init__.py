"""Pure-PyTorch network architectures, compatible with the official state-dict keys.

Importing this package imports torch: only the torch engine does so, lazily.
Each architecture exposes ``restore(x01, fidelity)``: input and output are
float tensors in [0, 1], shape (N, 3, H, W).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .codeformer import CodeFormer
from .gfpgan import GFPGANv1Clean
from .rrdbnet import RRDBNet

ARCHS: dict[str, Callable[[], nn.Module]] = {
    "rrdbnet": lambda: RRDBNet(num_feat=64, num_block=23, num_grow_ch=32, scale=4),
    "gfpgan-v1-clean": lambda: GFPGANv1Clean(
        out_size=512,
        num_style_feat=512,
        channel_multiplier=2,
        num_mlp=8,
        input_is_latent=True,
        different_w=True,
        narrow=1,
        sft_half=True,
    ),
    "codeformer": lambda: CodeFormer(
        dim_embd=512,
        codebook_size=1024,
        n_head=8,
        n_layers=9,
        connect_list=("32", "64", "128", "256"),
    ),
}


def build_arch(name: str) -> nn.Module:
    """A freshly initialised network of the named architecture."""
    try:
        return ARCHS[name]()
    except KeyError:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHS)})") from None


__all__ = ["ARCHS", "CodeFormer", "GFPGANv1Clean", "RRDBNet", "build_arch"]
