"""Face-detector recall/precision/speed on the labelled frames of the shared videos.

Usage: python bench/detect_recall.py [--labels-dir DIR] [--videos-dir DIR] [--configs ...]

Prints a table to stderr and JSON to stdout. For each detector config (id @
max_side) and video:
- main_recall: labelled main-face centre inside some detection box (rows with a face_box);
- count_recall: sum(min(detections, n_faces)) / sum(n_faces);
- precision_est: sum(min(detections, n_faces)) / sum(detections), i.e. detections
  beyond the labelled count are treated as false positives (an upper bound on
  false positives: the labels leave out dark/defocused background faces);
- fp_empty: detections on frames labelled n_faces == 0;
- box_iou: mean IoU of the hit detection with the labelled face box (box tightness);
- ms / cpu_ms: mean over frames of the best-of-N detect() wall / process CPU time
  (after one warm-up call); cpu_ms counts all threads, so on 2 cores it can exceed ms.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from personframes.detect import FACE_DETECTORS, create_face_detector  # noqa: E402
from personframes.detect.base import FaceDetector  # noqa: E402
from personframes.detect.combined import CombinedFaceDetector  # noqa: E402
from personframes.types import Box, FaceDetection, Image  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
NATIVE = 1 << 16  # a max_side no frame reaches: native resolution


@dataclass(frozen=True)
class Label:
    frame_index: int
    n_faces: int
    face_box: Box | None


@dataclass
class Score:
    frames: int = 0
    main_total: int = 0
    main_hits: int = 0
    faces: int = 0
    found: int = 0  # sum of min(detections, n_faces)
    detections: int = 0
    fp_empty: int = 0
    ious: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    missed: list[int] = field(default_factory=list)

    def add(self, label: Label, dets: Sequence[FaceDetection], seconds: float, cpu: float) -> None:
        self.frames += 1
        self.seconds += seconds
        self.cpu_seconds += cpu
        self.faces += label.n_faces
        self.found += min(len(dets), label.n_faces)
        self.detections += len(dets)
        if label.n_faces == 0:
            self.fp_empty += len(dets)
        if label.face_box is not None:
            self.main_total += 1
            centre = label.face_box.center
            hits = [d for d in dets if d.box.contains(centre)]
            if hits:
                self.main_hits += 1
                self.ious.append(max(d.box.iou(label.face_box) for d in hits))
            else:
                self.missed.append(label.frame_index)

    def as_dict(self) -> dict[str, object]:
        return {
            "main_hits": self.main_hits,
            "main_total": self.main_total,
            "main_recall": _ratio(self.main_hits, self.main_total),
            "count_recall": _ratio(self.found, self.faces),
            "faces": self.faces,
            "detections": self.detections,
            "precision_est": _ratio(self.found, self.detections),
            "excess_detections": self.detections - self.found,
            "fp_empty": self.fp_empty,
            "box_iou": round(sum(self.ious) / len(self.ious), 3) if self.ious else None,
            "ms": round(1000 * self.seconds / max(1, self.frames), 1),
            "cpu_ms": round(1000 * self.cpu_seconds / max(1, self.frames), 1),
            "missed_main": self.missed,
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def read_labels(path: Path) -> list[Label]:
    labels = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            box = None
            if row["face_box"].strip():
                x, y, w, h = (float(v) for v in row["face_box"].split(","))
                box = Box(x, y, x + w, y + h)
            labels.append(Label(int(row["frame_index"]), int(row["n_faces"]), box))
    return labels


def decode_frames(video: Path, indices: set[int]) -> dict[int, Image]:
    """RGB frames at the given 0-based decode-order indices."""
    frames: dict[int, Image] = {}
    last = max(indices)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index in indices:
                frames[index] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            if index >= last:
                break
    return frames


Factory = Callable[[], FaceDetector]


def _side(text: str) -> int:
    return NATIVE if text in ("", "native") else int(text)


def build_configs(specs: Sequence[str], confidence: float) -> dict[str, Factory]:
    """Specs ``id@max_side`` (max_side a number or ``native``).

    ``a+b@640`` combines registered ids (``mediapipe`` means ``mediapipe-full``),
    each at 640; ``centerface@640+centerface@192`` gives each part its own size.
    A registered id (such as ``centerface+mediapipe``) is used as is.
    """
    configs: dict[str, Factory] = {}
    for spec in specs:
        name, _, side_text = spec.rpartition("@") if "@" in spec else (spec, "", "")
        if name in FACE_DETECTORS:
            configs[spec] = partial(
                create_face_detector, name, confidence=confidence, max_side=_side(side_text)
            )
            continue
        parts = []
        for part in spec.split("+"):
            ident, _, own_side = part.partition("@")
            ident = "mediapipe-full" if ident == "mediapipe" else ident
            parts.append((ident, _side(own_side or side_text)))
        configs[spec] = partial(_combo, spec, parts, confidence)
    return configs


def _combo(name: str, parts: Sequence[tuple[str, int]], confidence: float) -> FaceDetector:
    children = [create_face_detector(i, confidence=confidence, max_side=s) for i, s in parts]
    return CombinedFaceDetector(name, children, max_side=max(s for _, s in parts))


DEFAULT_SPECS = (
    "mediapipe-short@640",
    "mediapipe-full@640",
    "mediapipe-full@native",
    "centerface@480",
    "centerface@640",
    "centerface@960",
    "centerface@native",
    "centerface+mediapipe@480",
    "centerface+mediapipe@640",
    "centerface+mediapipe@960",
    "centerface+mediapipe-short@640",
    "centerface@640+centerface@192",
)


def run(
    configs: dict[str, Factory],
    data: dict[str, tuple[list[Label], dict[int, Image]]],
    repeats: int = 3,
) -> dict[str, dict[str, dict[str, object]]]:
    """Score every config; timings interleave the configs frame by frame.

    All detectors are built first, then for each frame and each repeat every
    config runs once, so background load on a shared machine hits all configs
    alike; the best of the repeats counts.
    """
    detectors: dict[str, FaceDetector] = {}
    setup: dict[str, dict[str, float]] = {}
    labels0, frames0 = next(iter(data.values()))
    for spec, factory in configs.items():
        t0 = time.perf_counter()
        detectors[spec] = factory()
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        detectors[spec].detect(frames0[labels0[0].frame_index])
        setup[spec] = {
            "load_s": round(load_s, 3),
            "first_call_s": round(time.perf_counter() - t0, 3),
        }

    totals = {spec: Score() for spec in configs}
    results: dict[str, dict[str, dict[str, object]]] = {spec: {} for spec in configs}
    for video, (labels, frames) in data.items():
        scores = {spec: Score() for spec in configs}
        for label in labels:
            image = frames[label.frame_index]
            best = {spec: (float("inf"), float("inf")) for spec in configs}
            found: dict[str, list[FaceDetection]] = {}
            for _ in range(repeats):
                for spec, detector in detectors.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    found[spec] = detector.detect(image)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    best[spec] = (min(best[spec][0], wall), min(best[spec][1], cpu))
            for spec in configs:
                scores[spec].add(label, found[spec], *best[spec])
                totals[spec].add(label, found[spec], *best[spec])
        for spec in configs:
            results[spec][video] = scores[spec].as_dict()
        print(f"done {video}", file=sys.stderr)
    for spec in configs:
        results[spec]["all"] = {**totals[spec].as_dict(), **setup[spec]}
    return results


def print_table(results: dict[str, dict[str, dict[str, object]]]) -> None:
    header = f"{'config':32} {'video':16} {'main':>7} {'count':>7} {'prec':>6} "
    header += f"{'excess':>6} {'fp0':>4} {'IoU':>5} {'ms':>7} {'cpu_ms':>7}"
    print(header, file=sys.stderr)
    for spec, per_video in results.items():
        for video, r in per_video.items():
            main = f"{r['main_hits']}/{r['main_total']}"
            count = f"{r['count_recall']}"
            print(
                f"{spec:32} {video:16} {main:>7} {count:>7} {r['precision_est']!s:>6} "
                f"{r['excess_detections']!s:>6} {r['fp_empty']!s:>4} {r['box_iou']!s:>5} "
                f"{r['ms']!s:>7} {r['cpu_ms']!s:>7}",
                file=sys.stderr,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-dir", type=Path, default=SHARED / "labels")
    parser.add_argument("--videos-dir", type=Path, default=SHARED / "videos")
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT_SPECS))
    parser.add_argument("--confidence", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=3, help="timing: best of N per frame")
    args = parser.parse_args(argv)

    data: dict[str, tuple[list[Label], dict[int, Image]]] = {}
    for csv_path in sorted(args.labels_dir.glob("*.csv")):
        video = args.videos_dir / f"{csv_path.stem}.mp4"
        labels = read_labels(csv_path)
        data[csv_path.stem] = (labels, decode_frames(video, {lb.frame_index for lb in labels}))
    if not data:
        parser.error(f"no label CSVs in {args.labels_dir}")

    results = run(build_configs(args.configs, args.confidence), data, args.repeats)
    print_table(results)
    json.dump({"confidence": args.confidence, "results": results}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
