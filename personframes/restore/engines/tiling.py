"""Tiled inference with overlap, for inputs too large to run in one piece."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatImage = npt.NDArray[np.float32]


def run_tiled(
    fn: Callable[[FloatImage], FloatImage], image: FloatImage, scale: int, tile: int, pad: int
) -> FloatImage:
    """Apply ``fn`` (HxWx3 -> sH x sW x3) tile by tile; each tile sees ``pad`` px of context."""
    h, w = image.shape[:2]
    if max(h, w) <= tile:
        return fn(image)
    out = np.empty((h * scale, w * scale, image.shape[2]), dtype=np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            py0, px0 = max(y0 - pad, 0), max(x0 - pad, 0)
            py1, px1 = min(y1 + pad, h), min(x1 + pad, w)
            res = fn(image[py0:py1, px0:px1])
            oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
            out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] = res[
                oy : oy + (y1 - y0) * scale, ox : ox + (x1 - x0) * scale
            ]
    return out
