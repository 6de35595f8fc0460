"""Texture kept across the face paste: prints one JSON object, writes PNG crops.

    python bench/paste_texture.py [--out /tmp/paste_texture] [--strength 1.0]
                                  [--images portrait_soft.jpg,two_people.jpg]

For each shared photo it makes three textured versions (a colour halftone print, a
scan with every other row darkened, film grain) and keeps the clean one. In each,
every face is found with the project's detector, aligned, restored by the real
model (Real-ESRGAN x4plus through ncnn, the restoration policy bypassed so that the
model always runs) and pasted back twice: with the texture step off and on
(``paste_face(..., keep_texture=...)``).

Per face it reports the fine-band energy (std of luma minus its Gaussian blur,
sigma 1) inside the face (the pasted square's core outside the eyes, brows, nose
and mouth) and in a ring around the square, for the original, the paste without
and the paste with the texture step; ``face/ring`` near the original's means the
face matches its surroundings. ``seam`` is the fine-band std on the square's
feathered edge over the original's there (a seam shows as > 1). ``with_vs_without``
says how much the step changed the face (mean abs difference, PSNR). ``paste_ms``:
time of one paste (median of 5) with the step off and on.

PNG crops (original | without | with) go to --out, one per face, plus a 2x zoom of
the face's centre.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personframes.models.catalogue import DEFAULT_MODEL
from personframes.restore.align import (
    FFHQ_TEMPLATE_512,
    alignment_matrix,
    face_points,
    feather_mask,
    feature_mask,
    native_face_size,
    paste_face,
    paste_face_stats,
    warp_face,
)
from personframes.restore.api import FaceRestoration
from personframes.restore.restorer import create_restorer
from personframes.restore.settings import RestorationSettings

WHOLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images" / "whole"
RING = 0.15  # ring width, fraction of the face's side in image px


# -- textured versions of a photo ---------------------------------------------------


def halftone(image: np.ndarray, pitch: float = 5.0) -> np.ndarray:
    """A colour halftone print: one rotated dot screen per channel (C, M, Y at 15, 75
    and 0 degrees), binary ink, slightly blurred as a scan of the print would be."""
    height, width = image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty_like(image)
    for channel, angle in enumerate((15.0, 75.0, 0.0)):
        a = math.radians(angle)
        u = x * math.cos(a) + y * math.sin(a)
        v = -x * math.sin(a) + y * math.cos(a)
        screen = (np.cos(2 * np.pi * u / pitch) + np.cos(2 * np.pi * v / pitch)) * 0.25 + 0.5
        ink = 1.0 - image[..., channel].astype(np.float32) / 255.0
        out[..., channel] = np.where(ink > screen, 0, 255)
    blurred = cv2.GaussianBlur(out.astype(np.float32), (0, 0), 0.7)
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def scanlines(image: np.ndarray, dark: float = 0.7) -> np.ndarray:
    """Every other row darkened to ``dark``."""
    out = image.astype(np.float32)
    out[1::2] *= dark
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def grain(image: np.ndarray, amount: float = 9.0, seed: int = 0) -> np.ndarray:
    """Film grain: luma noise of std ``amount``, clumped by a small blur."""
    noise = np.random.default_rng(seed).standard_normal(image.shape[:2]).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7)
    noise *= amount / float(noise.std())
    return np.clip(np.rint(image.astype(np.float32) + noise[..., None]), 0, 255).astype(np.uint8)


VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda image: image,
    "halftone": halftone,
    "scanlines": scanlines,
    "grain": grain,
}


# -- measures -----------------------------------------------------------------------


def fine_band(image: np.ndarray) -> np.ndarray:
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.asarray(luma - cv2.GaussianBlur(luma, (0, 0), 1.0), np.float32)


def zones(shape: tuple[int, ...], matrix: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Boolean masks (image size): the face core outside features, the square's
    feathered edge, and a ring around the square."""
    height, width = shape[:2]
    inverse = cv2.invertAffineTransform(matrix)

    def back(mask: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.warpAffine(mask, inverse, (width, height)), np.float32)

    feather = back(feather_mask(size))
    features = back(feature_mask(size))
    square = back(np.ones((size, size), np.float32)) > 0.0
    side = size / math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    reach = max(3, math.ceil(side * RING))
    kernel = np.ones((3, 3), np.uint8)
    near = cv2.dilate(square.astype(np.uint8), kernel, iterations=3) > 0
    around = cv2.dilate(square.astype(np.uint8), kernel, iterations=reach) > 0
    return {
        "face": (feather >= 0.9) & (features <= 0.1),
        "edge": (feather > 0.0) & (feather < 0.5),
        "ring": around & ~near,
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def measure(image: np.ndarray, where: dict[str, np.ndarray]) -> dict[str, float]:
    band = fine_band(image)
    face, ring = float(band[where["face"]].std()), float(band[where["ring"]].std())
    return {"face": round(face, 2), "ring": round(ring, 2), "face/ring": round(face / ring, 3)}


# -- the run ------------------------------------------------------------------------


def always_run_kwargs(restore_crop: Callable[..., Any]) -> dict[str, Any]:
    """Keyword that makes ``restore_crop`` run the model whatever its policy says (the
    restorer's API is in flux: ``restore_large`` or ``policy``)."""
    params = inspect.signature(restore_crop).parameters
    if "policy" in params:
        return {"policy": "always"}
    if "restore_large" in params:
        return {"restore_large": True}
    return {}


def crop_box(matrix: np.ndarray, size: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    corners = corners @ inverse[:, :2].T + inverse[:, 2]
    pad = int(0.1 * (corners[:, 0].max() - corners[:, 0].min()))
    x0, y0 = (np.floor(corners.min(0)).astype(int) - pad).clip(0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + pad, shape[1])
    y1 = min(int(np.ceil(corners[:, 1].max())) + pad, shape[0])
    return int(x0), int(y0), x1, y1


def save_panels(
    out_dir: Path, stem: str, panels: list[np.ndarray], box: tuple[int, ...]
) -> list[str]:
    x0, y0, x1, y1 = box
    crops = [p[y0:y1, x0:x1] for p in panels]
    gap = np.full((y1 - y0, 6, 3), 255, np.uint8)
    row = np.concatenate([crops[0], gap, crops[1], gap, crops[2]], axis=1)
    paths = [out_dir / f"{stem}.png"]
    PILImage.fromarray(row).save(paths[0])
    # 2x nearest-neighbour zoom of the centre half, so dots and lines can be seen.
    h, w = y1 - y0, x1 - x0
    cy, cx = slice(h // 4, h - h // 4), slice(w // 4, w - w // 4)
    zoom = [np.kron(c[cy, cx], np.ones((2, 2, 1), np.uint8)) for c in crops]
    gap = np.full((zoom[0].shape[0], 6, 3), 255, np.uint8)
    paths.append(out_dir / f"{stem}_zoom.png")
    PILImage.fromarray(np.concatenate([zoom[0], gap, zoom[1], gap, zoom[2]], axis=1)).save(paths[1])
    return [str(p) for p in paths]


def timed_ms(fn: Callable[[], Any], reps: int = 5) -> float:
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return round(statistics.median(runs) * 1000, 2)


def run(images: list[str], out_dir: Path, strength: float) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    restoration = FaceRestoration()
    detector = restoration.detector()
    restorer = create_restorer(
        restoration.session, RestorationSettings(model=DEFAULT_MODEL, device="cpu")
    )
    always = always_run_kwargs(restorer.restore_crop)
    results: list[dict[str, Any]] = []
    for name in images:
        clean = np.asarray(PILImage.open(WHOLE / name).convert("RGB"))
        clean_faces = detector.detect(clean)
        for variant, make in VARIANTS.items():
            image = make(clean)
            faces = detector.detect(image)
            detected_on = variant
            if len(faces) < len(clean_faces):  # textures can hide faces from the detector
                faces, detected_on = clean_faces, "clean"
            without, with_ = image.copy(), image.copy()
            for index, face in enumerate(faces):
                points = face_points(face)
                size = native_face_size(points)
                matrix = alignment_matrix(points, size)
                aligned = warp_face(image, matrix, size)
                landmarks = FFHQ_TEMPLATE_512 * (size / 512.0)
                result = restorer.restore_crop(
                    aligned, size, strength, landmarks=landmarks, **always
                )
                if result.fell_back or result.image.shape[:2] != (size, size):
                    results.append(
                        {"image": name, "variant": variant, "face": index, "skipped": True}
                    )
                    continue
                restored = result.image
                before = with_.copy()
                without = paste_face(
                    without, restored, matrix, source_face=aligned, keep_texture=False
                )
                with_, stats = paste_face_stats(with_, restored, matrix, source_face=aligned)
                where = zones(image.shape, matrix, size)
                face_px = where["face"]
                a, b = without[face_px].astype(np.float64), with_[face_px].astype(np.float64)
                edge_o = float(fine_band(image)[where["edge"]].std())
                off_ms = timed_ms(
                    lambda b=before, r=restored, m=matrix, s=aligned: paste_face(
                        b, r, m, source_face=s, keep_texture=False
                    )
                )
                on_ms = timed_ms(
                    lambda b=before, r=restored, m=matrix, s=aligned: paste_face(
                        b, r, m, source_face=s
                    )
                )
                stem = f"{Path(name).stem}_{variant}_face{index}"
                results.append(
                    {
                        "image": name,
                        "variant": variant,
                        "face": index,
                        "detected_on": detected_on,
                        "size": size,
                        "measured": None
                        if stats is None
                        else {
                            "ring": round(stats.ring, 2),
                            "source": round(stats.source, 2),
                            "restored": round(stats.restored, 2),
                            "weight": round(stats.weight, 3),
                        },
                        "hf": {
                            "original": measure(image, where),
                            "without": measure(without, where),
                            "with": measure(with_, where),
                        },
                        "seam": {
                            "without": round(
                                float(fine_band(without)[where["edge"]].std()) / edge_o, 3
                            ),
                            "with": round(float(fine_band(with_)[where["edge"]].std()) / edge_o, 3),
                        },
                        "with_vs_without": {
                            "mean_abs": round(float(np.abs(a - b).mean()), 3),
                            "psnr_db": round(psnr(a, b), 2),
                        },
                        "paste_ms": {"off": off_ms, "on": on_ms},
                        "png": save_panels(
                            out_dir,
                            stem,
                            [image, without, with_],
                            crop_box(matrix, size, image.shape),
                        ),
                    }
                )
    summary: dict[str, Any] = {}
    for variant in VARIANTS:
        rows = [r for r in results if r["variant"] == variant and not r.get("skipped")]
        if rows:
            summary[variant] = {
                key: round(statistics.mean(r["hf"][key]["face/ring"] for r in rows), 3)
                for key in ("original", "without", "with")
            } | {
                "weight": round(statistics.mean(r["measured"]["weight"] for r in rows), 3),
                "mean_abs_change": round(
                    statistics.mean(r["with_vs_without"]["mean_abs"] for r in rows), 3
                ),
            }
    return {
        "model": DEFAULT_MODEL,
        "strength": strength,
        "out": str(out_dir),
        "summary_face_over_ring": summary,
        "faces": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/paste_texture"))
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--images", default="portrait_soft.jpg,two_people.jpg")
    args = parser.parse_args()
    images = [name.strip() for name in args.images.split(",") if name.strip()]
    print(json.dumps(run(images, args.out, args.strength), indent=2))


if __name__ == "__main__":
    main()
