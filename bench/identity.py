"""Face identity distances on the labelled frames of the shared videos (prints JSON).

Every face the default detector finds on the 55 labelled frames gets an embedding
(``personframes.detect.face_identity``). Pairs of known answer:

- **same person**: the labelled main face of one person in two frames. Who the main
  person is comes from the labels, checked by eye per shot: sitting_window is one
  woman throughout; in stage_performer shots 0 and 2 show the performer, shot 1 the
  curly-haired pianist, shot 3 the woman in the patterned dress.
- **different people**: two faces of one frame, and the main faces of two different
  people.

The distances are reported per pair kind, by the smaller face's height, with the
threshold that separates them best; the tracker (``analyze/tracking.py``) and
``--reference-face`` take their thresholds from these figures.

``--restoration`` measures instead how far face restoration moves a face's identity:
every face crop the write step would cut from the labelled frames (with detail), and
the shared aligned faces shrunk to 32-128 px, restored with the default model at the
default strength with the policy forced to run (``always``) and as the default policy
decides, each compared with its Lanczos resize.

    python bench/identity.py [--labels ../shared/data/labels] [--max-yaw 45] [--restoration]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import decode, main_detection, main_person, parse_box  # noqa: E402

from personframes.analyze.head_pose import HeadPoseEstimator  # noqa: E402
from personframes.analyze.quality import measure_quality  # noqa: E402
from personframes.config import HeadAngleConfig, ModelsConfig, SelectionConfig  # noqa: E402
from personframes.detect import create_face_detector  # noqa: E402
from personframes.detect.face_identity import (  # noqa: E402
    MAX_YAW,
    FaceEmbedder,
    identity_distance,
)
from personframes.restore.settings import RestorationSettings  # noqa: E402

CUTS = {"stage_performer.mp4": (20, 82, 211)}  # from the labels' README


def stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    q = np.percentile(a, [0, 5, 50, 95, 100])
    names = ("min", "p5", "median", "p95", "max")
    return {"n": len(a), **{k: round(float(v), 3) for k, v in zip(names, q, strict=True)}}


def best_threshold(same: list[float], different: list[float]) -> dict[str, float]:
    """The cut with the fewest errors (same above it or different at or below it)."""
    best = (len(same) + len(different) + 1, 0.0)
    for t in sorted(set(same) | set(different)):
        errors = sum(d > t for d in same) + sum(d <= t for d in different)
        best = min(best, (errors, t))
    return {"threshold": round(best[1], 3), "errors": best[0]}


def default_detector() -> Any:
    """The face detector with the settings the pipeline runs with."""
    m = ModelsConfig()
    return create_face_detector(
        m.face_detector,
        confidence=m.confidence,
        max_side=m.detector_max_side,
        coarse_side=m.detector_coarse_side,
    )


def run(labels_dir: Path, min_face: float, max_yaw: float) -> dict[str, Any]:
    detector = default_detector()
    embedder = FaceEmbedder()
    head = HeadPoseEstimator(HeadAngleConfig())
    min_detail = SelectionConfig().min_face_sharpness
    skipped = blurred = 0
    faces: list[dict[str, Any]] = []
    for csv_path in sorted(labels_dir.glob("*.csv")):
        rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
        video = rows[0]["video"]
        wanted = {int(r["frame_index"]) for r in rows}
        frames, _ = decode(labels_dir.parent / "videos" / video, wanted)
        for row in rows:
            index = int(row["frame_index"])
            image = frames[index]
            dets = [d for d in detector.detect(image) if d.box.height >= min_face]
            main = main_detection(dets, parse_box(row["face_box"]))
            shot = sum(1 for c in CUTS.get(video, ()) if c <= index)
            for j, det in enumerate(dets):
                if measure_quality(image, det.box).sharpness < min_detail:
                    blurred += 1  # the faces that get no face crop: too little detail
                    continue
                yaw = head.estimate(image, det).yaw
                if yaw is None or abs(yaw) > max_yaw:
                    skipped += 1
                    continue
                faces.append(
                    {
                        "video": video,
                        "frame": index,
                        "height": det.box.height,
                        "who": main_person(video, shot, labels_dir) if j == main else None,
                        "embedding": embedder.embed(image, det.box),
                    }
                )
    same: list[tuple[float, float]] = []  # (distance, smaller face height)
    different: list[tuple[float, float]] = []
    for a, b in itertools.combinations(faces, 2):
        d = identity_distance(a["embedding"], b["embedding"])
        size = min(a["height"], b["height"])
        if a["video"] == b["video"] and a["frame"] == b["frame"]:
            different.append((d, size))
        elif a["who"] is not None and b["who"] is not None and a["video"] == b["video"]:
            (same if a["who"] == b["who"] else different).append((d, size))
    bands = {"all": (0, 1e9), "<48 px": (0, 48), "48-96 px": (48, 96), ">=96 px": (96, 1e9)}
    by_size = {}
    for name, (lo, hi) in bands.items():
        s = [d for d, h in same if lo <= h < hi]
        o = [d for d, h in different if lo <= h < hi]
        by_size[name] = {"same": stats(s), "different": stats(o), **best_threshold(s, o)}
    return {
        "faces": len(faces),
        "faces_turned_away": skipped,
        "faces_without_detail": blurred,
        "same_pairs": len(same),
        "different_pairs": len(different),
        "by_smaller_face_height": by_size,
    }


def restoration_drift(labels_dir: Path) -> dict[str, Any]:
    """Identity distance of restored faces from their Lanczos resize (see the doc)."""
    import cv2

    from personframes.config import OutputConfig
    from personframes.models.session import ModelSession
    from personframes.output.crops import crop_box, cut, head_box
    from personframes.restore import create_restorer
    from personframes.restore.align import face_points

    m, out = ModelsConfig(), OutputConfig()
    detector = default_detector()
    session = ModelSession()
    min_detail = SelectionConfig().min_face_sharpness
    crops: list[tuple[str, Any, float, Any]] = []  # (source, crop, face_px, points)
    for csv_path in sorted(labels_dir.glob("*.csv")):
        rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
        wanted = {int(r["frame_index"]) for r in rows}
        frames, _ = decode(labels_dir.parent / "videos" / rows[0]["video"], wanted)
        for index in sorted(frames):
            image = frames[index]
            height, width = image.shape[:2]
            for det in detector.detect(image):
                if measure_quality(image, det.box).sharpness < min_detail:
                    continue
                box = crop_box(head_box(det), width, height, out.face_crop_padding)
                crop = cut(image, box)
                origin = np.array([round(box.x1), round(box.y1)], np.float64)
                crops.append(("video", crop, det.box.height, face_points(det) - origin))
    for path in sorted((labels_dir.parent / "images" / "faces").glob("*.png")):
        face = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        for side in (32, 48, 64, 128):
            small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
            crops.append(("image", small, side * 0.69, None))  # face ~69 % of the image
    result: dict[str, Any] = {}
    for policy in ("always", "auto"):
        restorer = create_restorer(
            session,
            RestorationSettings(
                model=out.face_restoration_model, device=m.device, policy=policy, max_drift=99.0
            ),
        )
        for source in ("video", "image"):
            distances = []
            for kind, crop, face_px, points in crops:
                if kind != source:
                    continue
                r = restorer.restore_crop(
                    crop, 512, out.face_restoration_strength, face_px=face_px, landmarks=points
                )
                if r.identity_distance is not None:
                    distances.append(r.identity_distance)
            result[f"{policy}:{source}"] = stats(distances)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=ROOT.parent / "shared" / "data" / "labels")
    parser.add_argument("--min-face", type=float, default=0.0, help="ignore faces lower than this")
    parser.add_argument(
        "--max-yaw", type=float, default=MAX_YAW, help="only faces turned less than this (deg)"
    )
    parser.add_argument("--restoration", action="store_true", help="restored vs Lanczos")
    args = parser.parse_args()
    if args.restoration:
        print(json.dumps(restoration_drift(args.labels), indent=2))
    else:
        print(json.dumps(run(args.labels, args.min_face, args.max_yaw), indent=2))


if __name__ == "__main__":
    main()
