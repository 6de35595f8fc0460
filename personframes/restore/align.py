"""Face alignment to the FFHQ 5-point template, feathered paste-back, colour matching,
and keeping the image's texture (grain, halftone, scan lines) across the paste."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from ..errors import ProcessingError
from ..types import Box, FaceDetection, Image

FloatArray = npt.NDArray[np.float32]
Affine = npt.NDArray[np.float64]  # 2x3, maps image -> aligned face

# Five points (left eye, right eye, nose, mouth left, mouth right; as seen by the
# viewer) of the FFHQ-aligned 512 px face used by GFPGAN and CodeFormer.
FFHQ_TEMPLATE_512: FloatArray = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.19360],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)

# Where those points typically fall inside a face detector's box (fractions of
# width/height); used when a detection has no keypoints.
_BOX_POINTS = np.array(
    [[0.32, 0.40], [0.68, 0.40], [0.50, 0.58], [0.36, 0.78], [0.64, 0.78]], dtype=np.float32
)


def box_points(box: Box) -> FloatArray:
    """Approximate five points from a face box."""
    pts = _BOX_POINTS * np.array([box.width, box.height], dtype=np.float32)
    out: FloatArray = (pts + np.array([box.x1, box.y1], dtype=np.float32)).astype(np.float32)
    return out


class NoFaceFound(ProcessingError):
    """No usable face keypoints for a face model (none found, or degenerate)."""


def face_points(face: FaceDetection) -> FloatArray:
    """The detection's five keypoints, or points estimated from its box."""
    points = face.five_points()
    return points if points is not None else box_points(face.box)


def alignment_matrix(points: FloatArray, size: int) -> Affine:
    """Similarity transform (rotation, uniform scale, shift) mapping ``points`` onto the
    template scaled to ``size`` px."""
    template = FFHQ_TEMPLATE_512 * (size / 512.0)
    matrix, _ = cv2.estimateAffinePartial2D(points.astype(np.float32), template, method=cv2.LMEDS)
    if matrix is None:  # degenerate points: fall back to a least-squares fit
        matrix, _ = cv2.estimateAffinePartial2D(points.astype(np.float32), template, method=0)
    if matrix is None:
        raise NoFaceFound("cannot align the face: degenerate keypoints")
    result: Affine = matrix.astype(np.float64)
    return result


def native_face_size(points: FloatArray, minimum: int = 16, maximum: int = 2048) -> int:
    """Side in image pixels that the 512 px template spans for this face."""
    matrix = alignment_matrix(points, 512)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    side = min(max(512.0 / max(scale, 1e-6), minimum), maximum)
    return int(side + 0.5)


def warp_face(image: Image, matrix: Affine, size: int) -> Image:
    """The aligned ``size`` x ``size`` face (edges replicated by reflection)."""
    out = np.asarray(
        cv2.warpAffine(
            image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        ),
        dtype=np.uint8,
    )
    return out


@lru_cache(maxsize=32)
def _feather(size: int) -> FloatArray:
    margin = max(2, round(size * 0.04))
    mask = np.zeros((size, size), dtype=np.float32)
    mask[margin:-margin, margin:-margin] = 1.0
    sigma = max(1.0, size * 0.025)
    out = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma), np.float32)
    out.setflags(write=False)
    return out


def feather_mask(size: int) -> FloatArray:
    """A square mask, 1 inside and fading to 0 over the outer ~8 % of each side."""
    return _feather(size).copy()


def match_colour(source: Image, target: Image) -> Image:
    """``target`` with the per-channel Lab mean and spread of ``source`` (centre region)."""
    size = source.shape[0]
    lo, hi = size // 4, size - size // 4
    src = cv2.cvtColor(source.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    dst = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    s_reg, d_reg = src[lo:hi, lo:hi].reshape(-1, 3), dst[lo:hi, lo:hi].reshape(-1, 3)
    s_mean, s_std = s_reg.mean(0), s_reg.std(0)
    d_mean, d_std = d_reg.mean(0), d_reg.std(0)
    # Shift the mean fully; rescale the spread only within limits, so that restored
    # detail (higher contrast) is kept rather than flattened back to the blur.
    gain = np.clip(s_std / np.maximum(d_std, 1e-3), 0.8, 1.25)
    gain[0] = 1.0
    out = ((dst - d_mean) * gain + s_mean).astype(np.float32)
    rgb = cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(np.asarray(rgb) * 255.0), 0, 255).astype(np.uint8)


# -- texture kept across the paste ---------------------------------------------------
#
# A restored face is clean; on a halftone print, a scan with line structure or a
# grainy film photo that clean face sits as a smooth patch in a textured image. The
# paste therefore puts the original's fine band (original minus its Gaussian blur,
# in image pixels) back in place of the restored face's own (half of it on the eyes,
# brows, nose and mouth), by a weight measured per face: how much stronger the fine band is
# in the surroundings and in the original face than in the restored face. Clean
# photos measure no deficit and are left as they are.

# Ellipses (centre x, centre y, half width, half height) on the 512 px template
# around the features that keep the restored detail: eyes with brows, nose, mouth.
_FEATURES_512 = (
    (193.0, 226.0, 48.0, 38.0),
    (319.0, 226.0, 48.0, 38.0),
    (257.0, 290.0, 28.0, 40.0),
    (257.0, 372.0, 72.0, 38.0),
)
TEXTURE_SIGMA = 2.0  # image px: the band put back is x - GaussianBlur(x, TEXTURE_SIGMA)
_BAND_KSIZE = 13  # +-3 sigma
MEASURE_SIGMA = 1.0  # image px: the band measured (texture level) is finer still
_RING = 0.15  # the surroundings measured: this fraction of the face's side around it
# Share of the texture put back on the features too, so that they do not stand out
# as smooth islands in a textured face while keeping most of their restored detail.
FEATURE_TEXTURE = 0.5
# Weight ramps (grey levels of robust std, and ratios): see texture_weight.
_EXCESS_RAMP = (3.0, 5.0)
_RATIO_RAMP = (1.15, 1.6)


@lru_cache(maxsize=32)
def _features(size: int) -> FloatArray:
    scale = size / 512.0
    mask = np.zeros((size, size), dtype=np.float32)
    for cx, cy, ax, ay in _FEATURES_512:
        centre = (round(cx * scale), round(cy * scale))
        axes = (max(1, round(ax * scale)), max(1, round(ay * scale)))
        cv2.ellipse(mask, centre, axes, 0.0, 0.0, 360.0, (1.0,), thickness=-1)
    sigma = max(1.0, size * 0.02)
    out = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma), np.float32)
    out.setflags(write=False)
    return out


def feature_mask(size: int) -> FloatArray:
    """Soft mask of the aligned ``size`` px face's eyes with brows, nose and mouth (1 on
    them, 0 elsewhere), from the FFHQ template."""
    return _features(size).copy()


@dataclass(frozen=True)
class TextureStats:
    """Fine-band levels (robust std, grey levels) measured for one paste."""

    ring: float  # the surroundings of the face; NaN when the face fills the image
    source: float  # the original face, outside its features
    restored: float  # the pasted face before the texture step, same pixels
    weight: float  # fraction of the original's fine band put back (0: none)


def _smoothstep(x: float, lo: float, hi: float) -> float:
    t = min(max((x - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def texture_weight(ring: float, source: float, restored: float) -> float:
    """How much of the original's fine band to put back (0..1).

    The texture to match is the weaker of the surroundings' and the original face's
    (both must carry it: a clean face in front of a busy background has none to give
    back). It is missing from the restored face by ``excess`` (the std the restored
    face lacks) and by ``ratio``; both must be clear of noise and of ordinary
    sensor grain or JPEG residue for the weight to rise.
    """
    target = source if math.isnan(ring) else min(ring, source)
    excess = math.sqrt(max(target * target - restored * restored, 0.0))
    ratio = target / max(restored, 0.25)
    return _smoothstep(excess, *_EXCESS_RAMP) * _smoothstep(ratio, *_RATIO_RAMP)


def _level(values: FloatArray) -> float:
    """Robust std (median absolute value / 0.6745): dense texture counts, sparse edges
    do not."""
    if values.size < 16:
        return math.nan
    return float(np.median(np.abs(values))) / 0.6745


def _highpass(luma: FloatArray) -> FloatArray:
    blur = cv2.GaussianBlur(luma, (5, 5), MEASURE_SIGMA)
    return np.asarray(cv2.subtract(luma, blur), np.float32)


def _sample(values: FloatArray, select: npt.NDArray[np.bool_]) -> FloatArray:
    """``values[select]`` on every third pixel of each axis (plenty for a median; odd,
    so that scan lines are sampled on both kinds of row)."""
    return values[::3, ::3][select[::3, ::3]]


@dataclass(frozen=True)
class _Region:
    """The pasted region (``box``: x0, y0, x1, y1) inside a wider one around it."""

    box: tuple[int, int, int, int]
    wide: tuple[int, int, int, int]

    def inner(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.box
        wx0, wy0 = self.wide[:2]
        return slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0)


def _texture_step(
    image: Image,
    region: _Region,
    corners: npt.NDArray[np.float64],
    original: FloatArray,
    pasted: FloatArray,
    back: Image,
    mask: FloatArray,
    features: FloatArray,
) -> TextureStats:
    """Measure, and put the original's fine band back into ``pasted`` (in place).

    ``original``/``pasted``: float RGB of the pasted region before/after the paste;
    ``back``: the warped face; ``mask``/``features``: the warped feather and feature
    masks; ``corners``: the pasted square in image coordinates."""
    wx0, wy0, wx1, wy1 = region.wide
    luma_w = cv2.cvtColor(image[wy0:wy1, wx0:wx1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    band_w = _highpass(luma_w)
    # The surroundings: the wide region outside the square (and the blur's reach).
    square = np.zeros(luma_w.shape, np.uint8)
    cv2.fillConvexPoly(square, np.rint(corners[[0, 1, 3, 2]] - (wx0, wy0)).astype(np.int32), (1,))
    covered = np.asarray(cv2.dilate(square, np.ones((5, 5), np.uint8)), np.uint8)
    ring = _level(_sample(band_w, covered == 0))
    # The face: the pasted square's core outside the features, before and after.
    inner = region.inner()
    luma_o = luma_w[inner]
    luma_b = cv2.cvtColor(back, cv2.COLOR_RGB2GRAY).astype(np.float32)
    band_p = _highpass(luma_o + mask * (luma_b - luma_o))
    core = (mask >= 0.9) & (features <= 0.1)
    source = _level(_sample(band_w[inner], core))
    restored = _level(_sample(band_p, core))
    if math.isnan(source) or math.isnan(restored):
        return TextureStats(ring, source, restored, 0.0)
    weight = texture_weight(ring, source, restored)
    if weight > 0.0:
        # original - pasted, and its fine band: what the restored face lacks or adds.
        diff = cv2.subtract(original, pasted)
        band = cv2.subtract(diff, cv2.GaussianBlur(diff, (_BAND_KSIZE, _BAND_KSIZE), TEXTURE_SIGMA))
        # Outside the square the difference is 0 but its blur is not: leave that.
        amount = (1.0 - (1.0 - FEATURE_TEXTURE) * features) * weight
        amount[mask <= 0.0] = 0.0
        np.multiply(band, amount[..., None], out=band)
        np.add(pasted, band, out=pasted)
    return TextureStats(ring, source, restored, weight)


def paste_face_stats(
    image: Image,
    face: Image,
    matrix: Affine,
    *,
    source_face: Image | None = None,
    keep_texture: bool = True,
) -> tuple[Image, TextureStats | None]:
    """:func:`paste_face`, also returning what the texture step measured (None when it
    did not run)."""
    result: Image = image.copy()
    stats = paste_face_into(
        result, face, matrix, source_face=source_face, keep_texture=keep_texture
    )
    return result, stats


def paste_face_into(
    image: Image,
    face: Image,
    matrix: Affine,
    *,
    source_face: Image | None = None,
    keep_texture: bool = True,
) -> TextureStats | None:
    """:func:`paste_face` in place: only the region the face lands in (and, for the
    texture step, a ring around it) is read, worked on in float and written back; the
    rest of ``image`` is not touched. Returns what the texture step measured (None when
    it did not run)."""
    size = face.shape[0]
    if source_face is not None:
        face = match_colour(source_face, face)
    height, width = image.shape[:2]
    inverse = np.asarray(cv2.invertAffineTransform(matrix), np.float64)
    # Work on the region the face lands in, not the whole image.
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    corners = corners @ inverse[:, :2].T + inverse[:, 2]
    lo = np.floor(corners.min(0)).astype(int) - 2
    hi = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), width), min(int(hi[1]), height)
    if x1 <= x0 or y1 <= y0:
        return None
    shifted = inverse.copy()
    shifted[:, 2] -= (x0, y0)
    roi = (x1 - x0, y1 - y0)
    back = np.asarray(
        cv2.warpAffine(face, shifted, roi, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
        np.uint8,
    )
    masks = np.dstack([_feather(size), _features(size)]) if keep_texture else _feather(size)
    warped = np.asarray(
        cv2.warpAffine(
            masks,
            shifted,
            roi,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0.0, 0.0, 0.0, 0.0),
        ),
        np.float32,
    )
    mask = warped if warped.ndim == 2 else np.ascontiguousarray(warped[..., 0])
    original = image[y0:y1, x0:x1].astype(np.float32)
    pasted = np.asarray(cv2.subtract(back.astype(np.float32), original), np.float32)
    np.multiply(pasted, mask[..., None], out=pasted)
    np.add(pasted, original, out=pasted)
    stats = None
    if keep_texture:
        # The surroundings measured: a ring of _RING x the face's side (image px).
        side = size / max(math.sqrt(abs(float(np.linalg.det(matrix[:, :2])))), 1e-6)
        ring = math.ceil(side * _RING)
        wide = (max(x0 - ring, 0), max(y0 - ring, 0), min(x1 + ring, width), min(y1 + ring, height))
        region = _Region((x0, y0, x1, y1), wide)
        features = np.ascontiguousarray(warped[..., 1])
        stats = _texture_step(image, region, corners, original, pasted, back, mask, features)
    image[y0:y1, x0:x1] = np.clip(np.rint(pasted), 0, 255).astype(np.uint8)
    return stats


def paste_face(
    image: Image,
    face: Image,
    matrix: Affine,
    *,
    source_face: Image | None = None,
    keep_texture: bool = True,
) -> Image:
    """Warp ``face`` back into ``image`` through the inverse of ``matrix`` with a feathered
    mask; when ``source_face`` (the aligned input) is given, colour-match to it first.

    ``keep_texture``: where the image around the face and the original face carry a
    fine texture (grain, halftone dots, scan lines) that the restored face lacks, put
    the original's fine band back in place of the restored face's (fully on skin and
    hair, half on the eyes, brows, nose and mouth; see :func:`texture_weight` for how
    much); clean photos are left as they are.
    """
    return paste_face_stats(
        image, face, matrix, source_face=source_face, keep_texture=keep_texture
    )[0]
