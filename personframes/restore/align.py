"""Face alignment to the FFHQ 5-point template, feathered paste-back, colour matching."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

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
        raise ValueError("cannot align face: degenerate landmarks")
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


def feather_mask(size: int) -> FloatArray:
    """A square mask, 1 inside and fading to 0 over the outer ~8 % of each side."""
    margin = max(2, round(size * 0.04))
    mask = np.zeros((size, size), dtype=np.float32)
    mask[margin:-margin, margin:-margin] = 1.0
    sigma = max(1.0, size * 0.025)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma), np.float32)


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


def paste_face(
    image: Image, face: Image, matrix: Affine, *, source_face: Image | None = None
) -> Image:
    """Warp ``face`` back into ``image`` through the inverse of ``matrix`` with a feathered
    mask; when ``source_face`` (the aligned input) is given, colour-match to it first."""
    size = face.shape[0]
    if source_face is not None:
        face = match_colour(source_face, face)
    height, width = image.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    back = cv2.warpAffine(
        face, inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    warped_mask = cv2.warpAffine(
        feather_mask(size),
        inverse,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0.0, 0.0, 0.0, 0.0),
    )
    mask = np.asarray(warped_mask, np.float32)[..., None]
    out = mask * back.astype(np.float32) + (1.0 - mask) * image.astype(np.float32)
    result: Image = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return result
