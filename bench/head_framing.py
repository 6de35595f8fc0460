"""Where CenterFace's face box sits on the head, and how well ``head_box`` frames it.

Usage: python bench/head_framing.py [--labels-dir DIR] [--videos-dir DIR]
       [--images-dir DIR] [--padding 0.1] [--old-padding 0.3] [--sheets DIR]

Decodes the labelled frames of the shared videos (frame_index = 0-based decode
order, from the start) and reads the shared whole images, runs CenterFace and
matches each labelled main face (label centre inside a detection, best IoU).
Prints JSON to stdout, per video, for the images and over all:

- offsets of the labelled face box (hairline-to-chin, cheek-to-cheek) from the
  detection box: top/bottom in detection heights, left/right in widths
  (positive = the label edge lies right of / below the detection edge);
- keypoint geometry: eye-mouth distance per box height, eye and mouth height
  in the box, eye distance / eye-mouth distance, eye-line tilt, and the label's
  left/right edges from the face midline (between the eye and mouth midpoints)
  in U, for frontal (eye distance / eye-mouth >= 0.8), turned and profile
  (< 0.4) faces;
- the label's top/bottom from the eye line in U (eye-mouth / 0.358, see
  ``personframes.output.crops``);
- hair: the top of the hair, read by eye on contact sheets (``HAIR_TOPS``),
  above the eye line in U and above the box top in box heights, and how often
  each crop keeps it;
- fractions of labelled boxes fully inside ``head_box``, inside the crop
  ``crop_box(head_box, padding)``, and for the old crop ``crop_box(face.box,
  0.3)``: how often it cut the labelled top, the chin, or the hair; the chin
  margin (crop bottom - label bottom) in crop heights; area of head_box / label.

``--sheets DIR`` writes PNG contact sheets (detection green, label red,
head_box blue, padded crop white, old crop orange).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from personframes.detect import create_face_detector  # noqa: E402
from personframes.output.crops import EYE_MOUTH_PER_U, crop_box, head_box  # noqa: E402
from personframes.types import Box, FaceDetection, Image  # noqa: E402
from personframes.video.decode import VideoReader  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detect_recall  # noqa: E402  (the labels' reader, shared with that benchmark)

SHARED = REPO.parent / "shared" / "data"

# Top of the hair, read by eye on contact sheets of CenterFace's faces (crops
# with ticks every 0.1 box heights above the box; +-0.05 box heights): source
# (video or image file), frame_index (0 for images), x near the face's centre,
# y of the hair top, in pixels. Faces whose hair top was cut by the frame edge,
# too dark to see, or hidden are left out.
HAIR_TOPS: tuple[tuple[str, int, int, int], ...] = (
    ("sitting_window", 0, 404, 524),
    ("sitting_window", 15, 404, 524),
    ("sitting_window", 30, 403, 530),
    ("sitting_window", 75, 420, 535),
    ("sitting_window", 90, 428, 532),
    ("sitting_window", 105, 429, 539),
    ("sitting_window", 120, 452, 534),
    ("sitting_window", 135, 461, 532),
    ("sitting_window", 195, 404, 525),
    ("sitting_window", 255, 380, 545),
    ("sitting_window", 270, 396, 537),
    ("sitting_window", 285, 365, 545),
    ("sitting_window", 300, 314, 562),
    ("sitting_window", 315, 275, 525),
    ("sitting_window", 330, 275, 390),
    ("sitting_window", 345, 301, 277),
    ("sitting_window", 360, 331, 238),
    ("sitting_window", 375, 331, 239),
    ("sitting_window", 390, 292, 236),
    ("sitting_window", 405, 260, 189),
    ("sitting_window", 420, 236, 172),
    ("sitting_window", 435, 197, 167),
    ("sitting_window", 450, 124, 83),
    ("sitting_window", 465, 29, 84),
    ("stage_performer", 5, 549, 35),
    ("stage_performer", 95, 222, 20),
    ("stage_performer", 110, 262, 52),
    ("stage_performer", 125, 242, 7),
    ("stage_performer", 140, 210, 5),
    ("lowres_portrait_a.jpg", 0, 78, 66),
    ("lowres_portrait_a.jpg", 0, 194, 70),
    ("lowres_portrait_a.jpg", 0, 301, 68),
    ("lowres_portrait_a.jpg", 0, 413, 57),
    ("old_photo_group.png", 0, 419, 84),
    ("old_photo_group.png", 0, 404, 400),
    ("old_photo_group.png", 0, 213, 73),
    ("portrait_soft.jpg", 0, 510, 26),
    ("portrait_soft.jpg", 0, 177, 73),
)


@dataclass(frozen=True)
class Sample:
    """One image and what is known about it."""

    source: str
    frame_index: int
    image: Image
    label: Box | None  # labelled main face box, if any
    hair: list[tuple[int, int]] = field(default_factory=list)  # (x, y) hair tops


@dataclass
class Stats:
    values: dict[str, list[float]] = field(default_factory=dict)
    flags: dict[str, list[bool]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def flag(self, key: str, value: bool) -> None:
        self.flags.setdefault(key, []).append(value)

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def merge(self, other: Stats) -> None:
        for k, v in other.values.items():
            self.values.setdefault(k, []).extend(v)
        for k, f in other.flags.items():
            self.flags.setdefault(k, []).extend(f)
        for k, n in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + n

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = dict(sorted(self.counts.items()))
        for key, values in sorted(self.values.items()):
            out[key] = _summary(values)
        for key, flags in sorted(self.flags.items()):
            out[key] = round(sum(flags) / len(flags), 3) if flags else None
        return out


def _summary(values: Sequence[float]) -> dict[str, float | int]:
    v = np.asarray(values, dtype=float)
    median = float(np.median(v))
    return {
        "n": len(v),
        "median": round(median, 3),
        "mad": round(float(np.median(np.abs(v - median))), 3),
        "p10": round(float(np.percentile(v, 10)), 3),
        "p75": round(float(np.percentile(v, 75)), 3),
        "p90": round(float(np.percentile(v, 90)), 3),
        "min": round(float(v.min()), 3),
        "max": round(float(v.max()), 3),
    }


def read_labels(path: Path) -> dict[int, Box | None]:
    """Frame index -> the labelled face box (None where no face is labelled)."""
    return {label.frame_index: label.face_box for label in detect_recall.read_labels(path)}


def decode_frames(video: Path, indices: set[int]) -> dict[int, Image]:
    """RGB frames at the given 0-based decode-order indices."""
    with VideoReader(video) as reader:
        return {frame.index: frame.image for frame in reader.read(indices)}


def _hair(source: str, frame_index: int) -> list[tuple[int, int]]:
    return [(x, y) for s, i, x, y in HAIR_TOPS if s == source and i == frame_index]


def load_samples(labels_dir: Path, videos_dir: Path, images_dir: Path) -> dict[str, list[Sample]]:
    sets: dict[str, list[Sample]] = {}
    for csv_path in sorted(labels_dir.glob("*.csv")):
        labels = read_labels(csv_path)
        frames = decode_frames(videos_dir / f"{csv_path.stem}.mp4", set(labels))
        sets[csv_path.stem] = [
            Sample(csv_path.stem, i, frames[i], labels[i], _hair(csv_path.stem, i))
            for i in sorted(labels)
        ]
    images = sorted(p for p in images_dir.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    if images:
        sets["images"] = [
            Sample(p.name, 0, np.asarray(PILImage.open(p).convert("RGB")), None, _hair(p.name, 0))
            for p in images
        ]
    return sets


def _geometry(face: FaceDetection) -> dict[str, float] | None:
    points = face.five_points()
    if points is None:
        return None
    left, right, _, mouth_l, mouth_r = (p.astype(float) for p in points)
    eyes, mouth = (left + right) / 2, (mouth_l + mouth_r) / 2
    ratio = float(np.hypot(*(right - left))) / max(float(np.hypot(*(mouth - eyes))), 1e-9)
    em = float(np.hypot(*(mouth - eyes)))
    if em <= 0:
        return None
    box = face.box
    return {
        "midline_x": float(eyes[0] + mouth[0]) / 2,
        "eye_y": float(eyes[1]),
        "em": em,
        "unit": em / EYE_MOUTH_PER_U,
        "em_per_box_height": em / box.height,
        "eye_y_in_box": (eyes[1] - box.y1) / box.height,
        "mouth_y_in_box": (mouth[1] - box.y1) / box.height,
        "eye_dist_per_em": ratio,
        "eye_tilt_deg": math.degrees(math.atan2(right[1] - left[1], right[0] - left[0])),
    }


def _view(eye_dist_per_em: float) -> str:
    """frontal (eyes apart), profile (eyes on top of each other) or turned."""
    if eye_dist_per_em >= 0.8:
        return "frontal"
    return "profile" if eye_dist_per_em < 0.4 else "turned"


def _inside(inner: Box, outer: Box) -> bool:
    return (
        outer.x1 <= inner.x1
        and outer.y1 <= inner.y1
        and inner.x2 <= outer.x2
        and inner.y2 <= outer.y2
    )


def _match_label(faces: Sequence[FaceDetection], label: Box) -> FaceDetection | None:
    hits = [f for f in faces if f.box.contains(label.center)]
    return max(hits, key=lambda f: f.box.iou(label)) if hits else None


def _match_hair(faces: Sequence[FaceDetection], x: int) -> FaceDetection | None:
    hits = [f for f in faces if f.box.x1 <= x <= f.box.x2]
    return min(hits, key=lambda f: abs(f.box.center[0] - x)) if hits else None


def measure(
    sample: Sample, faces: Sequence[FaceDetection], padding: float, old_padding: float
) -> tuple[Stats, list[tuple[FaceDetection, Box | None]]]:
    """Stats of one sample; also the (face, label) pairs it used, for sheets."""
    stats = Stats()
    used: list[tuple[FaceDetection, Box | None]] = []
    height, width = sample.image.shape[:2]
    label = sample.label
    if label is not None:
        stats.count("labelled")
        face = _match_label(faces, label)
        if face is None:
            stats.count("label_missed")
        else:
            stats.count("label_matched")
            used.append((face, label))
            box, head = face.box, head_box(face)
            new = crop_box(head, width, height, padding)
            old = crop_box(box, width, height, old_padding)
            stats.add("label_top_offset_per_box_h", (label.y1 - box.y1) / box.height)
            stats.add("label_bottom_offset_per_box_h", (label.y2 - box.y2) / box.height)
            stats.add("label_left_offset_per_box_w", (label.x1 - box.x1) / box.width)
            stats.add("label_right_offset_per_box_w", (label.x2 - box.x2) / box.width)
            stats.add("label_h_per_box_h", label.height / box.height)
            stats.add("label_w_per_box_w", label.width / box.width)
            stats.add("head_box_area_per_label_area", head.area / label.area)
            stats.flag("label_in_head_box", _inside(label, head))
            stats.flag("label_in_head_box_box_only", _inside(label, head_box(_no_points(face))))
            stats.flag("label_in_new_crop", _inside(label, new))
            stats.flag("old_crop_cut_label_top", old.y1 > label.y1)
            stats.flag("old_crop_cut_chin", old.y2 < label.y2)
            stats.add("old_crop_chin_margin_per_crop_h", (old.y2 - label.y2) / old.height)
            stats.add("new_crop_chin_margin_per_crop_h", (new.y2 - label.y2) / new.height)
            stats.add("old_crop_top_margin_per_crop_h", (label.y1 - old.y1) / old.height)
            stats.add("new_crop_top_margin_per_crop_h", (label.y1 - new.y1) / new.height)
            geo = _geometry(face)
            if geo is not None:
                for key in ("em_per_box_height", "eye_y_in_box", "mouth_y_in_box"):
                    stats.add(key, geo[key])
                stats.add("eye_dist_per_em", geo["eye_dist_per_em"])
                stats.add("label_top_above_eyes_U", (geo["eye_y"] - label.y1) / geo["unit"])
                stats.add("label_bottom_below_eyes_U", (label.y2 - geo["eye_y"]) / geo["unit"])
                stats.add("label_h_per_U", label.height / geo["unit"])
                if geo["eye_dist_per_em"] > 0.8:  # eyes apart: the eye line is meaningful
                    stats.add("eye_tilt_deg_frontal", geo["eye_tilt_deg"])
                view = _view(geo["eye_dist_per_em"])
                for edge, x in (("left", label.x1), ("right", label.x2)):
                    offset = (x - geo["midline_x"]) / geo["unit"]
                    stats.add(f"label_{edge}_from_midline_U_{view}", offset)
    for x, y in sample.hair:
        face = _match_hair(faces, x)
        if face is None:
            stats.count("hair_unmatched")
            continue
        stats.count("hair_read")
        if label is None:
            used.append((face, None))
        box, head = face.box, head_box(face)
        stats.add("hair_top_above_box_top_per_box_h", (box.y1 - y) / box.height)
        geo = _geometry(face)
        if geo is not None:
            stats.add("hair_top_above_eyes_U", (geo["eye_y"] - y) / geo["unit"])
        stats.flag("hair_in_head_box", head.y1 <= y)
        stats.flag("hair_in_new_crop", crop_box(head, width, height, padding).y1 <= y)
        stats.flag("hair_in_old_crop", crop_box(box, width, height, old_padding).y1 <= y)
    return stats, used


def _no_points(face: FaceDetection) -> FaceDetection:
    return FaceDetection(face.box, face.score, {}, face.detector)


def draw_sheet(
    cells: Iterable[tuple[str, Image, FaceDetection, Box | None]],
    path: Path,
    padding: float,
    old_padding: float,
    size: int = 300,
    columns: int = 5,
) -> None:
    tiles = []
    for title, image, face, label in cells:
        height, width = image.shape[:2]
        head = head_box(face)
        new = crop_box(head, width, height, padding)
        old = crop_box(face.box, width, height, old_padding)
        side = 1.2 * max(new.width, new.height, old.width, old.height)
        cx, cy = new.center
        x0, y0, scale = cx - side / 2, cy - side / 2, size / side
        pil = PILImage.fromarray(image).crop(
            (round(x0), round(y0), round(x0 + side), round(y0 + side))
        )
        tile = pil.resize((size, size), PILImage.Resampling.BICUBIC)
        draw = ImageDraw.Draw(tile)

        boxes = [(old, (255, 140, 0), 1), (face.box, (0, 255, 0), 1), (head, (0, 120, 255), 2)]
        boxes.append((new, (255, 255, 255), 1))
        if label is not None:
            boxes.append((label, (255, 0, 0), 1))
        for b, colour, line in boxes:
            corners = [(b.x1 - x0) * scale, (b.y1 - y0) * scale, (b.x2 - x0) * scale]
            draw.rectangle([*corners, (b.y2 - y0) * scale], outline=colour, width=line)
        for x, y in face.keypoints.values():
            px, py = (x - x0) * scale, (y - y0) * scale
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=(255, 255, 0))
        draw.rectangle([0, 0, size, 11], fill=(0, 0, 0))
        draw.text((2, 0), title, fill=(255, 255, 255))
        tiles.append(tile)
    if not tiles:
        return
    rows = -(-len(tiles) // columns)
    sheet = PILImage.new("RGB", (columns * size, rows * size), (40, 40, 40))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * size, (i // columns) * size))
    sheet.save(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-dir", type=Path, default=SHARED / "labels")
    parser.add_argument("--videos-dir", type=Path, default=SHARED / "videos")
    parser.add_argument("--images-dir", type=Path, default=SHARED / "images" / "whole")
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--confidence", type=float, default=0.4)
    parser.add_argument("--padding", type=float, default=0.1, help="padding around head_box")
    parser.add_argument("--old-padding", type=float, default=0.3, help="old face-box padding")
    parser.add_argument("--sheets", type=Path, help="write PNG contact sheets to this folder")
    args = parser.parse_args(argv)

    sets = load_samples(args.labels_dir, args.videos_dir, args.images_dir)
    if not sets:
        parser.error(f"no label CSVs in {args.labels_dir} and no images in {args.images_dir}")
    detector = create_face_detector(
        "centerface", confidence=args.confidence, max_side=args.max_side
    )
    results: dict[str, dict[str, object]] = {}
    total = Stats()
    for name, samples in sets.items():
        stats = Stats()
        cells: list[tuple[str, Image, FaceDetection, Box | None]] = []
        for sample in samples:
            faces = detector.detect(sample.image)
            one, used = measure(sample, faces, args.padding, args.old_padding)
            stats.merge(one)
            title = f"{sample.source} {sample.frame_index}"
            cells.extend((title, sample.image, face, label) for face, label in used)
        results[name] = stats.as_dict()
        total.merge(stats)
        if args.sheets is not None:
            args.sheets.mkdir(parents=True, exist_ok=True)
            draw_sheet(cells, args.sheets / f"head_{name}.png", args.padding, args.old_padding)
        print(f"done {name}", file=sys.stderr)
    results["all"] = total.as_dict()
    output = {
        "detector": f"centerface@{args.max_side}",
        "confidence": args.confidence,
        "padding": args.padding,
        "old_padding": args.old_padding,
        "median_note": "offsets: label edge - detection edge (+ = right/down)",
        "results": results,
    }
    json.dump(output, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
