"""Image measures used by the restoration policy, its per-face record and the benchmarks.

- ``psnr`` and ``ssim``: fidelity against a reference (SSIM on luma, Gaussian window,
  the constants of Wang et al. 2004).
- ``sharpness``: variance of the Laplacian of luma (content- and scale-dependent; use
  it as a ratio between two versions of the same face).
- ``blur_index``: a no-reference blur estimate in [0, 1] (0 = crisp, 1 = flat), the
  re-blur measure of Crété-Roffet et al. 2007: how much of the image's neighbour
  variation survives a 9-tap box blur. Contrast-invariant, so it compares faces of
  different exposure.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from ..types import Image

FloatArray = npt.NDArray[np.float64]


def luma(image: Image) -> FloatArray:
    """Luma (BT.601, as cv2's RGB2GRAY) as float64."""
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.float64)


def psnr(a: Image, b: Image) -> float:
    """Peak signal-to-noise ratio (dB) over all channels; 99 for identical images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: Image, b: Image) -> float:
    """Mean SSIM on luma, 11-tap Gaussian window (sigma 1.5)."""
    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: FloatArray) -> FloatArray:
        return np.asarray(cv2.GaussianBlur(z, (11, 11), 1.5), dtype=np.float64)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


def sharpness(image: Image) -> float:
    """Variance of the Laplacian of luma."""
    return float(cv2.Laplacian(luma(image), cv2.CV_64F).var())


def blur_index(image: Image) -> float:
    """No-reference blur in [0, 1]: 0 crisp, 1 flat (re-blur measure, max over axes)."""
    grey = luma(image)
    if min(grey.shape) < 3:
        return 1.0
    worst = 0.0
    for axis in (0, 1):
        kernel = (1, 9) if axis == 1 else (9, 1)
        blurred = np.asarray(cv2.blur(grey, kernel), dtype=np.float64)
        d_orig = np.abs(np.diff(grey, axis=axis))
        d_blur = np.abs(np.diff(blurred, axis=axis))
        total = float(d_orig.sum())
        if total <= 0:
            return 1.0
        kept = float(np.maximum(0.0, d_orig - d_blur).sum())
        worst = max(worst, (total - kept) / total)
    return worst
