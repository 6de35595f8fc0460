"""CodeFormer: VQGAN codebook + transformer code prediction + controllable fusion.

A compact pure-PyTorch re-implementation (no basicsr) whose parameter names
match the official ``codeformer.pth`` ``params_ema`` state dict. The weights
are under the S-Lab License 1.0 (non-commercial).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=ch, eps=1e-6, affine=True)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.norm1 = _norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.norm2 = _norm(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        if in_ch != out_ch:
            self.conv_out = nn.Conv2d(in_ch, out_ch, 1, 1, 0)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.conv1(F.silu(self.norm1(x_in)))
        x = self.conv2(F.silu(self.norm2(x)))
        if self.in_ch != self.out_ch:
            x_in = self.conv_out(x_in)
        return x + x_in


class AttnBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm = _norm(ch)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)
        k = self.k(h).reshape(b, c, hh * ww).transpose(1, 2)
        v = self.v(h).reshape(b, c, hh * ww).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(c)) v
        return x + self.proj_out(out.transpose(1, 2).reshape(b, c, hh, ww))


class Downsample(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Blocks(nn.Module):
    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


def _encoder(nf: int, emb_dim: int, mult: Sequence[int], n_res: int, size: int) -> _Blocks:
    blocks: list[nn.Module] = [nn.Conv2d(3, nf, 3, 1, 1)]
    res = size
    in_mult = (1, *mult)
    ch = nf
    for i, m in enumerate(mult):
        ch = nf * in_mult[i]
        for _ in range(n_res):
            blocks.append(ResBlock(ch, nf * m))
            ch = nf * m
            if res == 16:
                blocks.append(AttnBlock(ch))
        if i != len(mult) - 1:
            blocks.append(Downsample(ch))
            res //= 2
    blocks += [ResBlock(ch, ch), AttnBlock(ch), ResBlock(ch, ch), _norm(ch)]
    blocks.append(nn.Conv2d(ch, emb_dim, 3, 1, 1))
    return _Blocks(blocks)


def _generator(nf: int, emb_dim: int, mult: Sequence[int], n_res: int, size: int) -> _Blocks:
    ch = nf * mult[-1]
    res = size // 2 ** (len(mult) - 1)
    blocks: list[nn.Module] = [nn.Conv2d(emb_dim, ch, 3, 1, 1)]
    blocks += [ResBlock(ch, ch), AttnBlock(ch), ResBlock(ch, ch)]
    for i in reversed(range(len(mult))):
        for _ in range(n_res):
            blocks.append(ResBlock(ch, nf * mult[i]))
            ch = nf * mult[i]
            if res == 16:
                blocks.append(AttnBlock(ch))
        if i != 0:
            blocks.append(Upsample(ch))
            res *= 2
    blocks += [_norm(ch), nn.Conv2d(ch, 3, 3, 1, 1)]
    return _Blocks(blocks)


class _Codebook(nn.Module):
    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(size, dim)


class TransformerSALayer(nn.Module):
    def __init__(self, dim: int, n_head: int, dim_mlp: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, n_head, dropout=0.0)
        self.linear1 = nn.Linear(dim, dim_mlp)
        self.linear2 = nn.Linear(dim_mlp, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        q = h + pos
        x = x + self.self_attn(q, q, value=h, need_weights=False)[0]
        return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))


def _branch(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(out_ch, out_ch, 3, padding=1),
    )


class FuseSFTBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.encode_enc = ResBlock(2 * in_ch, out_ch)
        self.scale = _branch(in_ch, out_ch)
        self.shift = _branch(in_ch, out_ch)

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, w: float) -> torch.Tensor:
        enc = self.encode_enc(torch.cat([enc, dec], dim=1))
        return dec + w * (dec * self.scale(enc) + self.shift(enc))


def _adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    def stats(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = t.flatten(2)
        return flat.mean(2)[..., None, None], (flat.var(2) + eps).sqrt()[..., None, None]

    c_mean, c_std = stats(content)
    s_mean, s_std = stats(style)
    return (content - c_mean) / c_std * s_std + s_mean


class CodeFormer(nn.Module):
    """CodeFormer for 512 px aligned faces. ``w`` (fidelity): 0 = quality, 1 = fidelity."""

    # Encoder block after which a feature map is kept, generator block after which
    # it is fused, and channel count, per resolution.
    _ENC_OUT: ClassVar[dict[str, int]] = {
        "512": 2,
        "256": 5,
        "128": 8,
        "64": 11,
        "32": 14,
        "16": 18,
    }
    _GEN_FUSE: ClassVar[dict[str, int]] = {
        "16": 6,
        "32": 9,
        "64": 12,
        "128": 15,
        "256": 18,
        "512": 21,
    }
    _CHANNELS: ClassVar[dict[str, int]] = {
        "16": 512,
        "32": 256,
        "64": 256,
        "128": 128,
        "256": 128,
        "512": 64,
    }

    def __init__(
        self,
        dim_embd: int = 512,
        n_head: int = 8,
        n_layers: int = 9,
        codebook_size: int = 1024,
        latent_size: int = 256,
        connect_list: Sequence[str] = ("32", "64", "128", "256"),
    ) -> None:
        super().__init__()
        mult = (1, 2, 2, 4, 4, 8)
        self.encoder = _encoder(64, 256, mult, 2, 512)
        self.quantize = _Codebook(codebook_size, 256)
        self.generator = _generator(64, 256, mult, 2, 512)
        self.connect_list = tuple(connect_list)
        self.position_emb = nn.Parameter(torch.zeros(latent_size, dim_embd))
        self.feat_emb = nn.Linear(256, dim_embd)
        self.ft_layers = nn.Sequential(
            *[TransformerSALayer(dim_embd, n_head, dim_embd * 2) for _ in range(n_layers)]
        )
        self.idx_pred_layer = nn.Sequential(
            nn.LayerNorm(dim_embd), nn.Linear(dim_embd, codebook_size, bias=False)
        )
        self.fuse_convs_dict = nn.ModuleDict(
            {s: FuseSFTBlock(self._CHANNELS[s], self._CHANNELS[s]) for s in self.connect_list}
        )

    def forward(self, x: torch.Tensor, w: float = 0.5, adain: bool = True) -> torch.Tensor:
        """x in [-1, 1] (N, 3, 512, 512) -> restored face in [-1, 1]."""
        enc_at = {self._ENC_OUT[s]: s for s in self.connect_list}
        enc_feats: dict[str, torch.Tensor] = {}
        for i, block in enumerate(self.encoder.blocks):
            x = block(x)
            if i in enc_at:
                enc_feats[enc_at[i]] = x
        lq = x
        b = lq.shape[0]
        pos = self.position_emb.unsqueeze(1).repeat(1, b, 1)
        query = self.feat_emb(lq.flatten(2).permute(2, 0, 1))  # (HW, B, C)
        for layer in self.ft_layers:
            query = layer(query, pos)
        logits = self.idx_pred_layer(query).permute(1, 0, 2)  # (B, HW, codes)
        top = logits.argmax(dim=2)
        quant = self.quantize.embedding(top).view(b, 16, 16, -1).permute(0, 3, 1, 2).contiguous()
        if adain:
            quant = _adain(quant, lq)
        fuse_at = {self._GEN_FUSE[s]: s for s in self.connect_list}
        x = quant
        for i, block in enumerate(self.generator.blocks):
            x = block(x)
            if i in fuse_at and w > 0:
                x = self.fuse_convs_dict[fuse_at[i]](enc_feats[fuse_at[i]], x, w)
        return x

    def restore(self, x01: torch.Tensor, fidelity: float | None = None) -> torch.Tensor:
        w = 0.5 if fidelity is None else float(fidelity)
        out = self((x01 - 0.5) / 0.5, w=w, adain=True)
        return ((out.clamp(-1, 1) + 1) / 2).clamp_(0, 1)
