"""Paste-back keeps the photo's texture (halftone dots, scan lines, grain) on the face
and leaves clean photos alone: shared photos, a synthetic "restored" face (the aligned
face smoothed: a restoration that removed the texture), no model."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.restore.align import (
    alignment_matrix,
    feather_mask,
    feature_mask,
    native_face_size,
    paste_face,
    paste_face_stats,
    texture_weight,
    warp_face,
)

from .util import IMAGES

# Five keypoints (CenterFace) of one face in each photo.
FACES = {
    "portrait_soft.jpg": [
        [460.4, 154.5],
        [558.2, 172.7],
        [495.6, 213.9],
        [447.8, 252.0],
        [532.3, 266.1],
    ],
    "two_people.jpg": [
        [289.6, 91.5],
        [362.5, 99.2],
        [329.6, 135.2],
        [287.2, 165.2],
        [348.3, 171.8],
    ],
}


def _photo(name: str) -> np.ndarray:
    return np.asarray(PILImage.open(IMAGES / "whole" / name).convert("RGB"))


def _halftone(image: np.ndarray, pitch: float = 5.0) -> np.ndarray:
    """Colour halftone: a rotated binary dot screen per channel, softened by a scan."""
    height, width = image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty_like(image)
    for channel, angle in enumerate((15.0, 75.0, 0.0)):
        a = math.radians(angle)
        u, v = x * math.cos(a) + y * math.sin(a), -x * math.sin(a) + y * math.cos(a)
        screen = (np.cos(2 * np.pi * u / pitch) + np.cos(2 * np.pi * v / pitch)) * 0.25 + 0.5
        out[..., channel] = np.where(1.0 - image[..., channel] / 255.0 > screen, 0, 255)
    return np.clip(cv2.GaussianBlur(out.astype(np.float32), (0, 0), 0.7), 0, 255).astype(np.uint8)


def _scanlines(image: np.ndarray) -> np.ndarray:
    out = image.astype(np.float32)
    out[1::2] *= 0.7
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _grain(image: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).standard_normal(image.shape[:2]).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7)
    noise *= 9.0 / float(noise.std())
    return np.clip(np.rint(image + noise[..., None]), 0, 255).astype(np.uint8)


TEXTURES = {"halftone": _halftone, "scanlines": _scanlines, "grain": _grain}


def _fine_band(image: np.ndarray) -> np.ndarray:
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.asarray(luma - cv2.GaussianBlur(luma, (0, 0), 1.0), np.float32)


class _Paste:
    """One face of ``name`` (made textured by ``make``) pasted back smoothed, with the
    texture step off and on, and the regions to measure."""

    def __init__(self, name: str, texture: str | None) -> None:
        clean = _photo(name)
        self.image = TEXTURES[texture](clean) if texture else clean
        points = np.array(FACES[name], np.float32)
        size = native_face_size(points)
        matrix = alignment_matrix(points, size)
        aligned = warp_face(self.image, matrix, size)
        restored = cv2.GaussianBlur(aligned, (0, 0), 2.5)  # texture (and detail) gone
        self.without = paste_face(
            self.image, restored, matrix, source_face=aligned, keep_texture=False
        )
        self.with_, stats = paste_face_stats(self.image, restored, matrix, source_face=aligned)
        assert stats is not None
        self.stats = stats
        # Regions in image space: the pasted square's core outside the features, its
        # feathered edge, a ring around it (15 % of its side).
        height, width = self.image.shape[:2]
        inverse = cv2.invertAffineTransform(matrix)

        def back(mask: np.ndarray) -> np.ndarray:
            return np.asarray(cv2.warpAffine(mask, inverse, (width, height)), np.float32)

        feather = back(feather_mask(size))
        square = (back(np.ones((size, size), np.float32)) > 0).astype(np.uint8)
        kernel = np.ones((3, 3), np.uint8)
        side = size / math.sqrt(abs(np.linalg.det(matrix[:, :2])))
        near = cv2.dilate(square, kernel, iterations=3) > 0
        self.outside = ~near
        self.face = (feather >= 0.9) & (back(feature_mask(size)) <= 0.1)
        self.edge = (feather > 0.0) & (feather < 0.5)
        self.ring = (cv2.dilate(square, kernel, iterations=math.ceil(side * 0.15)) > 0) & ~near

    def face_over_ring(self, image: np.ndarray) -> float:
        band = _fine_band(image)
        return float(band[self.face].std() / band[self.ring].std())


@pytest.mark.parametrize("name", list(FACES))
@pytest.mark.parametrize("texture", list(TEXTURES))
def test_textured_photo_gets_its_texture_back_on_the_face(name: str, texture: str) -> None:
    paste = _Paste(name, texture)
    assert paste.stats.weight > 0.9, paste.stats
    original = paste.face_over_ring(paste.image)
    without = paste.face_over_ring(paste.without)
    with_ = paste.face_over_ring(paste.with_)
    # The smooth face is a patch (fine band < 1/3 of its surroundings') without the
    # step; with it the face's fine band is within 1.4x of the ring's and within 15 %
    # of what the original face had against that ring.
    assert without < 0.33, (original, without, with_)
    assert 1 / 1.4 < with_ < 1.4, (original, without, with_)
    assert abs(with_ / original - 1.0) < 0.15, (original, without, with_)
    assert abs(math.log(with_)) < abs(math.log(without)) / 3
    # No seam: on the square's feathered edge the fine band is the original's.
    band_o, band_w = _fine_band(paste.image), _fine_band(paste.with_)
    assert 0.9 < band_w[paste.edge].std() / band_o[paste.edge].std() < 1.1
    # Nothing outside the pasted square changes.
    assert np.array_equal(paste.with_[paste.outside], paste.image[paste.outside])


@pytest.mark.parametrize("name", list(FACES))
def test_clean_photo_is_left_as_the_plain_paste(name: str) -> None:
    paste = _Paste(name, None)
    assert paste.stats.weight == 0.0, paste.stats
    a = paste.without[paste.face].astype(np.float64)
    b = paste.with_[paste.face].astype(np.float64)
    assert np.abs(a - b).mean() < 0.5
    mse = float(np.mean((a - b) ** 2))
    assert mse == 0.0 or 10 * math.log10(255.0**2 / mse) > 45.0


def test_features_keep_most_of_the_restored_detail() -> None:
    paste = _Paste("portrait_soft.jpg", "halftone")
    points = np.array(FACES["portrait_soft.jpg"], np.float32)
    change = np.abs(paste.with_.astype(np.float32) - paste.without).mean(axis=2)
    # The eye gets at most half of the texture the skin gets (neighbourhood means).
    x, y = np.rint(points[0]).astype(int)
    eye = float(change[y - 3 : y + 4, x - 3 : x + 4].mean())
    skin = float(change[paste.face].mean())
    assert eye < 0.75 * skin, (eye, skin)


def test_face_filling_the_image_uses_the_face_alone() -> None:
    """No surroundings to measure: the original face's own fine band decides."""
    points = np.array(FACES["two_people.jpg"], np.float32)
    size = native_face_size(points)
    matrix = alignment_matrix(points, size)
    aligned = warp_face(_halftone(_photo("two_people.jpg")), matrix, size)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    restored = cv2.GaussianBlur(aligned, (0, 0), 2.5)
    out, stats = paste_face_stats(aligned, restored, identity, source_face=aligned)
    assert stats is not None and math.isnan(stats.ring) and stats.weight > 0.9
    assert out.shape == aligned.shape and out.dtype == np.uint8
    clean = warp_face(_photo("two_people.jpg"), matrix, size)
    _, stats = paste_face_stats(clean, cv2.GaussianBlur(clean, (0, 0), 2.5), identity)
    assert stats is not None and stats.weight == 0.0


def test_texture_weight_ramps() -> None:
    assert texture_weight(2.0, 2.5, 0.5) == 0.0  # clean: surroundings carry no texture
    assert texture_weight(20.0, 2.5, 0.5) == 0.0  # busy surroundings, clean face
    assert texture_weight(20.0, 20.0, 18.0) == 0.0  # restored face kept the texture
    assert texture_weight(20.0, 20.0, 1.0) == 1.0
    assert texture_weight(math.nan, 20.0, 1.0) == 1.0
    weights = [texture_weight(level, level, 1.0) for level in np.linspace(2.0, 8.0, 13)]
    assert weights == sorted(weights) and 0.0 < weights[4] < 1.0
