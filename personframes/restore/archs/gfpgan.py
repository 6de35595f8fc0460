"""GFPGANv1Clean (GFPGAN v1.3/v1.4): U-Net encoder + StyleGAN2 decoder with SFT.

A compact pure-PyTorch re-implementation (no compiled ops, no basicsr) whose
parameter names match the official ``GFPGANv1.4.pth`` ``params_ema`` state dict.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _channels(multiplier: float, narrow: float) -> dict[int, int]:
    return {
        4: int(512 * narrow),
        8: int(512 * narrow),
        16: int(512 * narrow),
        32: int(512 * narrow),
        64: int(256 * multiplier * narrow),
        128: int(128 * multiplier * narrow),
        256: int(64 * multiplier * narrow),
        512: int(32 * multiplier * narrow),
        1024: int(16 * multiplier * narrow),
    }


class NormStyleCode(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution (weight scaled per sample by the style)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.out_ch = out_ch
        self.kernel = kernel
        self.demodulate = demodulate
        self.upsample = upsample
        self.modulation = nn.Linear(style_dim, in_ch, bias=True)
        nn.init.ones_(self.modulation.bias)
        self.weight = nn.Parameter(
            torch.randn(1, out_ch, in_ch, kernel, kernel) / math.sqrt(in_ch * kernel**2)
        )

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        weight = self.weight * self.modulation(style).view(b, 1, c, 1, 1)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(b, self.out_ch, 1, 1, 1)
        weight = weight.view(b * self.out_ch, c, self.kernel, self.kernel)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        h, w = x.shape[2:]
        out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=self.kernel // 2, groups=b)
        return out.view(b, self.out_ch, h, w)


class StyleConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, True, upsample)
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        out = self.modulated_conv(x, style) * 2**0.5
        out = out + self.weight * noise + self.bias
        return F.leaky_relu(out, 0.2)


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, style_dim: int, upsample: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
            out = out + skip
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, channels, size, size))


class StyleGAN2GeneratorCSFT(nn.Module):
    """StyleGAN2 decoder whose features are modulated by spatial (SFT) conditions."""

    def __init__(
        self,
        out_size: int,
        style_dim: int,
        num_mlp: int,
        multiplier: float,
        narrow: float,
        sft_half: bool,
    ) -> None:
        super().__init__()
        ch = _channels(multiplier, narrow)
        mlp: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(style_dim, style_dim), nn.LeakyReLU(0.2)]
        self.style_mlp = nn.Sequential(*mlp)
        self.constant_input = ConstantInput(ch[4], 4)
        self.style_conv1 = StyleConv(ch[4], ch[4], style_dim)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)
        self.log_size = int(math.log2(out_size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.sft_half = sft_half
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for idx in range(self.num_layers):
            res = 2 ** ((idx + 5) // 2)
            self.noises.register_buffer(f"noise{idx}", torch.randn(1, 1, res, res))
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            self.style_convs.append(StyleConv(in_ch, out_ch, style_dim, upsample=True))
            self.style_convs.append(StyleConv(out_ch, out_ch, style_dim))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    def forward(self, latent: torch.Tensor, conditions: list[torch.Tensor]) -> torch.Tensor:
        noise = [getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]
        out = self.constant_input.weight.repeat(latent.shape[0], 1, 1, 1)
        out = self.style_conv1(out, latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        convs = list(self.style_convs)
        for k, to_rgb in enumerate(self.to_rgbs):
            out = convs[2 * k](out, latent[:, i], noise[2 * k + 1])
            if i < len(conditions):
                if self.sft_half:
                    same, sft = torch.split(out, out.size(1) // 2, dim=1)
                    out = torch.cat([same, sft * conditions[i - 1] + conditions[i]], dim=1)
                else:
                    out = out * conditions[i - 1] + conditions[i]
            out = convs[2 * k + 1](out, latent[:, i + 1], noise[2 * k + 2])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


class ResBlock(nn.Module):
    """Residual block with bilinear down- (0.5) or up-sampling (2)."""

    def __init__(self, in_ch: int, out_ch: int, factor: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, in_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.conv1(x), 0.2)
        out = F.interpolate(out, scale_factor=self.factor, mode="bilinear", align_corners=False)
        out = F.leaky_relu(self.conv2(out), 0.2)
        x = F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)
        return out + self.skip(x)


def _sft_branch(ch: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(ch, out, 3, 1, 1))


class GFPGANv1Clean(nn.Module):
    """GFPGAN v1 "clean" generator (v1.3 / v1.4 weights)."""

    def __init__(
        self,
        out_size: int = 512,
        num_style_feat: int = 512,
        channel_multiplier: float = 2,
        num_mlp: int = 8,
        input_is_latent: bool = True,
        different_w: bool = True,
        narrow: float = 1,
        sft_half: bool = True,
    ) -> None:
        super().__init__()
        self.input_is_latent = input_is_latent
        self.different_w = different_w
        self.num_style_feat = num_style_feat
        ch = _channels(channel_multiplier, narrow * 0.5)
        self.log_size = int(math.log2(out_size))
        self.conv_body_first = nn.Conv2d(3, ch[out_size], 1)
        in_ch = ch[out_size]
        self.conv_body_down = nn.ModuleList()
        for i in range(self.log_size, 2, -1):
            self.conv_body_down.append(ResBlock(in_ch, ch[2 ** (i - 1)], 0.5))
            in_ch = ch[2 ** (i - 1)]
        self.final_conv = nn.Conv2d(in_ch, ch[4], 3, 1, 1)
        in_ch = ch[4]
        self.conv_body_up = nn.ModuleList()
        self.toRGB = nn.ModuleList()
        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            self.conv_body_up.append(ResBlock(in_ch, out_ch, 2))
            in_ch = out_ch
        for i in range(3, self.log_size + 1):
            self.toRGB.append(nn.Conv2d(ch[2**i], 3, 1))
        linear_out = (self.log_size * 2 - 2) * num_style_feat if different_w else num_style_feat
        self.final_linear = nn.Linear(ch[4] * 4 * 4, linear_out)
        self.stylegan_decoder = StyleGAN2GeneratorCSFT(
            out_size, num_style_feat, num_mlp, channel_multiplier, narrow, sft_half
        )
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            sft_out = out_ch if sft_half else out_ch * 2
            self.condition_scale.append(_sft_branch(out_ch, sft_out))
            self.condition_shift.append(_sft_branch(out_ch, sft_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x in [-1, 1] (N, 3, 512, 512) -> restored face in [-1, 1]."""
        skips: list[torch.Tensor] = []
        feat = F.leaky_relu(self.conv_body_first(x), 0.2)
        for block in self.conv_body_down:
            feat = block(feat)
            skips.insert(0, feat)
        feat = F.leaky_relu(self.final_conv(feat), 0.2)
        style = self.final_linear(feat.flatten(1))
        if self.different_w:
            style = style.view(style.size(0), -1, self.num_style_feat)
        else:
            style = style.unsqueeze(1).repeat(1, self.log_size * 2 - 2, 1)
        if not self.input_is_latent:
            style = self.stylegan_decoder.style_mlp(style.flatten(0, 1)).view_as(style)
        conditions: list[torch.Tensor] = []
        for i, up in enumerate(self.conv_body_up):
            feat = up(feat + skips[i])
            conditions.append(self.condition_scale[i](feat))
            conditions.append(self.condition_shift[i](feat))
        result: torch.Tensor = self.stylegan_decoder(style, conditions)
        return result

    def restore(self, x01: torch.Tensor, fidelity: float | None = None) -> torch.Tensor:
        del fidelity
        out = self((x01 - 0.5) / 0.5)
        return ((out.clamp(-1, 1) + 1) / 2).clamp_(0, 1)
