"""Accuracy of detection and analysis against the hand labels.

Usage: python bench/accuracy.py [--labels DIR] [--detector ID]

Reads ``<labels>/*.csv`` (default: ../shared/data/labels beside the repo),
decodes each video with PyAV (frame_index = 0-based decode order), and
measures on the labelled frames:

- face detection: main-face recall (hit = the labelled face_box centre falls
  inside a detection) and a count-based precision (detections beyond the
  labelled face count are false), of every detection and of the faces the
  pipeline keeps as faces (detail at least selection.min_face_sharpness, and
  turned toward the camera: the labels count neither dark, defocused background
  faces nor backs of heads);
- head direction of the main face: exact and within one neighbouring class
  (rows labelled unclear/back/none are excluded from accuracy), the confusion
  matrix, and the yaw and pitch error against the labelled class's range (0
  inside it; front |yaw| <= 22.5, looking 22.5-67.5, profile >= 67.5; up/down
  |pitch| >= 22.5, level below), by method (mesh or keypoints);
- body pose of the main person (walking counts as standing; unclear/none rows
  excluded): accuracy over all rows and over the rows we classified;
- shot type of the main person;
- tracking: how many person ids the main person's detections received per shot;
- quality: mean face quality score per labelled sharpness.

A table goes to stderr, JSON to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personframes.analyze.body_pose import analyze_body_pose, carry_poses  # noqa: E402
from personframes.analyze.head_pose import HeadPoseEstimator, are_neighbours  # noqa: E402
from personframes.analyze.quality import (  # noqa: E402
    measure_quality,
    percentile_ranks,
    score_quality,
)
from personframes.analyze.shot_type import classify_shot_type  # noqa: E402
from personframes.analyze.tracking import (  # noqa: E402
    Observation,
    appearance_signature,
    track_people,
)
from personframes.config import (  # noqa: E402
    HeadAngleConfig,
    ModelsConfig,
    PoseConfig,
    SelectionConfig,
)
from personframes.detect import create_face_detector  # noqa: E402
from personframes.detect.face_identity import FaceEmbedder, identity_eligible  # noqa: E402
from personframes.detect.pose import PoseEstimator, body_region  # noqa: E402
from personframes.types import Box, FaceDetection, Image  # noqa: E402
from personframes.video.cuts import find_shot_cuts, thumbnail  # noqa: E402

EXCLUDED_HEAD = {"unclear", "back", "none"}
EXCLUDED_BODY = {"unclear", "none"}
EXCLUDED_SHOT = {"unclear", "none"}


# Who the main person is, per video and shot: a labels folder may name them beside each
# CSV (``VIDEO_STEM.people.json``: {"shots": {"0": "woman", ...}}); the shared videos'
# are in bench/main_people.json (by eye: sitting_window is one woman throughout; in
# stage_performer shots 0 and 2 show the performer, shot 1 the curly-haired pianist,
# shot 3 the woman in the patterned dress). A video named nowhere: each shot's main
# person counts as a person of their own (the tracking figures then say so).
KNOWN_PEOPLE = Path(__file__).resolve().parent / "main_people.json"


def main_person(video: str, shot: int, labels_dir: Path) -> str:
    """The name of ``video``'s main person in ``shot`` (0-based, by the labelled cuts)."""
    sidecar = labels_dir / f"{Path(video).stem}.people.json"
    for source in (sidecar, KNOWN_PEOPLE):
        if source.is_file():
            table = json.loads(source.read_text(encoding="utf-8"))
            shots = table.get("shots", {}) if source == sidecar else table.get(video, {})
            if str(shot) in shots:
                return str(shots[str(shot)])
    return f"main person of shot {shot}"


def decode(video: Path, wanted: set[int]) -> tuple[dict[int, Image], list[tuple[int, Any]]]:
    """RGB frames at ``wanted`` indices and a thumbnail of every frame."""
    frames: dict[int, Image] = {}
    thumbs: list[tuple[int, Any]] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            thumbs.append((i, thumbnail(frame)))
            if i in wanted:
                frames[i] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    return frames, thumbs


def parse_box(text: str) -> Box | None:
    if not text.strip():
        return None
    x, y, w, h = (float(v) for v in text.split(","))
    return Box(x, y, x + w, y + h)


def main_detection(dets: list[FaceDetection], label_box: Box | None) -> int | None:
    """Index of the detection containing the labelled face centre (largest overlap)."""
    if label_box is None:
        return None
    hits = [i for i, d in enumerate(dets) if d.box.contains(label_box.center)]
    if not hits:
        return None
    return max(hits, key=lambda i: dets[i].box.iou(label_box))


def class_ranges(direction: str, cfg: HeadAngleConfig) -> tuple[tuple[float, float], ...]:
    """The (yaw range, pitch range) in degrees a labelled direction stands for (viewer's
    convention: yaw < 0 toward the image's left, pitch > 0 up)."""
    y, p, far = cfg.yaw_looking, cfg.pitch_threshold, 180.0
    side = -1.0 if direction.endswith("left") else 1.0
    turned = tuple(sorted((side * y, side * cfg.yaw_profile)))
    yaw = {
        "front": (-y, y),
        "looking_up": (-y, y),
        "looking_down": (-y, y),
        "looking_left": turned,
        "looking_right": turned,
        "looking_up_left": turned,
        "looking_up_right": turned,
        "profile_left": (-far, -cfg.yaw_profile),
        "profile_right": (cfg.yaw_profile, far),
    }[direction]
    pitch = (p, 90.0) if "up" in direction else (-90.0, -p) if "down" in direction else (-p, p)
    return yaw, pitch  # type: ignore[return-value]


def range_error(value: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return max(0.0, lo - value, value - hi)


def error_stats(errors: list[float]) -> dict[str, float | int]:
    if not errors:
        return {"n": 0}
    a = np.asarray(errors)
    return {
        "n": len(errors),
        "inside": int((a == 0).sum()),
        "mean": round(float(a.mean()), 1),
        "median": round(float(np.median(a)), 1),
        "max": round(float(a.max()), 1),
    }


def pct(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def run(
    labels_dir: Path, detector_id: str, max_side: int | None = None, coarse: bool = True
) -> dict[str, Any]:
    m = ModelsConfig()  # the defaults the pipeline runs with
    detector = create_face_detector(
        detector_id,
        confidence=m.confidence,
        max_side=max_side or m.detector_max_side,
        coarse_side=m.detector_coarse_side if coarse else None,
    )
    head_cfg = HeadAngleConfig()
    head = HeadPoseEstimator(head_cfg)
    embedder = FaceEmbedder()
    pose_cfg = PoseConfig()
    kept_cfg = SelectionConfig()
    angle_errors: dict[str, list[float]] = defaultdict(list)
    counts: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    per_row: list[dict[str, Any]] = []
    tracking: dict[str, Any] = {}
    quality_by_label: dict[str, list[float]] = defaultdict(list)
    timings: defaultdict[str, float] = defaultdict(float)
    with PoseEstimator() as poser:
        for csv_path in sorted(labels_dir.glob("*.csv")):
            rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
            video = labels_dir.parent / "videos" / rows[0]["video"]
            t0 = time.perf_counter()
            frames, thumbs = decode(video, {int(r["frame_index"]) for r in rows})
            timings["decode"] += time.perf_counter() - t0
            cuts = find_shot_cuts(thumbs)
            observations: list[Observation] = []
            mains: list[int | None] = []
            bodies: list[tuple[str, str, str, dict[str, Any]]] = []
            face_sharpness: list[tuple[str, Any]] = []
            for row in rows:
                index = int(row["frame_index"])
                image = frames[index]
                height, width = image.shape[:2]
                t0 = time.perf_counter()
                dets = detector.detect(image)
                timings["detect"] += time.perf_counter() - t0
                label_box = parse_box(row["face_box"])
                n_faces = int(row["n_faces"])
                counts["detections"] += len(dets)
                counts["false_detections"] += max(0, len(dets) - n_faces)
                main = main_detection(dets, label_box)
                kept = [
                    d
                    for d in dets
                    if measure_quality(image, d.box).sharpness >= kept_cfg.min_face_sharpness
                    and (
                        d.score >= kept_cfg.min_profile_score
                        or head.estimate(image, d).method == "mesh"
                    )
                ]
                counts["kept"] += len(kept)
                counts["kept_found"] += main is not None and any(d is dets[main] for d in kept)
                counts["false_kept"] += max(0, len(kept) - n_faces)
                mains.append(main)
                observations.append(
                    Observation(
                        index,
                        float(row["time_s"]),
                        dets,
                        [appearance_signature(image, d.box) for d in dets],
                        [  # as the pipeline gives them (pipeline/people.py: person_ids)
                            embedder.embed(image, d.box)
                            if measure_quality(image, d.box).sharpness
                            >= kept_cfg.min_face_sharpness
                            and identity_eligible(head.estimate(image, d).yaw)
                            else None
                            for d in dets
                        ],
                    )
                )
                record: dict[str, Any] = {"video": row["video"], "frame": index}
                if label_box is not None:
                    counts["faces_labelled"] += 1
                    counts["faces_found"] += main is not None
                face = dets[main] if main is not None else None
                # Head direction.
                t0 = time.perf_counter()
                want_head = row["head_direction"]
                if want_head not in EXCLUDED_HEAD:
                    counts["head_rows"] += 1
                    pose = head.estimate(image, face) if face is not None else None
                    got = pose.direction if pose is not None else "no_face"
                    if pose is not None and pose.yaw is not None:
                        yaw_range, pitch_range = class_ranges(want_head, head_cfg)
                        angle_errors[f"yaw:{pose.method}"].append(range_error(pose.yaw, yaw_range))
                        if pose.pitch is not None:
                            angle_errors["pitch:mesh"].append(range_error(pose.pitch, pitch_range))
                    counts["head_exact"] += got == want_head
                    counts["head_near"] += are_neighbours(got, want_head)
                    confusion[f"head:{want_head}"][got] += 1
                    record["head"] = [want_head, got]
                timings["head"] += time.perf_counter() - t0
                # Body pose: the main face's region, else the whole frame.
                t0 = time.perf_counter()
                region = body_region(face.box, width, height) if face is not None else None
                body = poser.detect(image, region)
                timings["pose"] += time.perf_counter() - t0
                want_body = "standing" if row["body_pose"] == "walking" else row["body_pose"]
                got_body = analyze_body_pose(body, pose_cfg)
                bodies.append((want_body, got_body.pose, got_body.reason, record))
                # Shot type.
                want_shot = row["shot_type"]
                if want_shot not in EXCLUDED_SHOT:
                    counts["shot_rows"] += 1
                    if face is not None or body is not None:
                        shot_result = classify_shot_type(
                            face.box if face is not None else None,
                            width,
                            height,
                            body,
                            pose_cfg.min_visibility,
                        )
                        got_shot: str = shot_result.shot_type
                        record["shot_reason"] = shot_result.reason
                    else:
                        got_shot = "no_person"
                    counts["shot_exact"] += got_shot == want_shot
                    confusion[f"shot:{want_shot}"][got_shot] += 1
                    record["shot"] = [want_shot, got_shot]
                if face is not None:
                    face_sharpness.append((row["sharpness"], measure_quality(image, face.box)))
                per_row.append(record)
            ranks = percentile_ranks([m.sharpness for _, m in face_sharpness])
            for (label, metrics), rank in zip(face_sharpness, ranks, strict=True):
                quality_by_label[label].append(score_quality(metrics, rank).overall)
            # Tracking: ids given to the main person, per shot.
            ids = track_people(observations, cuts)
            per_shot: dict[int, set[int]] = defaultdict(set)
            held: dict[int, set[str]] = defaultdict(set)  # id -> the main people it holds
            for obs, id_list, main in zip(observations, ids, mains, strict=True):
                if main is not None:
                    shot = sum(1 for c in cuts if c <= obs.frame_index)
                    per_shot[shot].add(id_list[main])
                    held[id_list[main]].add(main_person(rows[0]["video"], shot, labels_dir))
            # Body pose as the pipeline has it: a waist-up sighting takes the same
            # person's pose nearby (carry_poses), here from the labelled rows.
            sightings = [  # a row without the main face: a person of its own
                (float(row["time_s"]), -1 - n if main is None else id_list[main], got, reason)
                for n, (id_list, main, row, (_, got, reason, _)) in enumerate(
                    zip(ids, mains, rows, bodies, strict=True)
                )
            ]
            for (want, _, reason, record), (got, source) in zip(
                bodies, carry_poses(sightings), strict=True
            ):
                if want in EXCLUDED_BODY:
                    continue
                counts["body_rows"] += 1
                counts["body_exact"] += got == want
                counts["body_classified"] += got != "unknown"
                counts["body_carried"] += source is not None
                confusion[f"body:{want}"][got] += 1
                record["body"] = [
                    want,
                    got,
                    reason if source is None else f"carried from {source} s",
                ]
            tracking[rows[0]["video"]] = {
                "cuts": cuts,
                "main_person_ids_per_shot": {str(k): sorted(v) for k, v in per_shot.items()},
                "mixed_ids": {str(k): sorted(v) for k, v in held.items() if len(v) > 1},
                "people": len({i for id_list in ids for i in id_list}),
                "ids": [[o.frame_index, i] for o, i in zip(observations, ids, strict=True)],
            }
    result = {
        "detector": detector_id,
        "face_recall": pct(counts["faces_found"], counts["faces_labelled"]),
        "face_found": f"{counts['faces_found']}/{counts['faces_labelled']}",
        "face_precision_by_count": pct(
            counts["detections"] - counts["false_detections"], counts["detections"]
        ),
        "kept_face_precision_by_count": pct(counts["kept"] - counts["false_kept"], counts["kept"]),
        "kept_face_recall": pct(counts["kept_found"], counts["faces_labelled"]),
        "head_angle_error_deg": {k: error_stats(v) for k, v in sorted(angle_errors.items())},
        "head_exact": pct(counts["head_exact"], counts["head_rows"]),
        "head_within_one": pct(counts["head_near"], counts["head_rows"]),
        "head_rows": counts["head_rows"],
        "body_accuracy": pct(counts["body_exact"], counts["body_rows"]),
        "body_accuracy_classified": pct(counts["body_exact"], counts["body_classified"]),
        "body_coverage": pct(counts["body_classified"], counts["body_rows"]),
        "body_rows": counts["body_rows"],
        "body_carried": counts["body_carried"],
        "shot_accuracy": pct(counts["shot_exact"], counts["shot_rows"]),
        "shot_rows": counts["shot_rows"],
        "confusion": {k: dict(v) for k, v in sorted(confusion.items())},
        "tracking": tracking,
        "quality_by_sharpness_label": {
            k: round(float(np.mean(v)), 3) for k, v in sorted(quality_by_label.items())
        },
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "rows": per_row,
    }
    return result


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'metric':34s} value",
        f"{'face recall (main face)':34s} {result['face_recall']} ({result['face_found']})",
        f"{'face precision (by count)':34s} {result['face_precision_by_count']}",
        f"{'  of the faces kept as faces':34s} {result['kept_face_precision_by_count']} "
        f"(main-face recall {result['kept_face_recall']})",
        f"{'head direction exact':34s} {result['head_exact']} (n={result['head_rows']})",
        f"{'head direction within one':34s} {result['head_within_one']}",
        f"{'head angle error vs class range':34s} {result['head_angle_error_deg']}",
        f"{'body pose accuracy (all rows)':34s} {result['body_accuracy']} "
        f"(n={result['body_rows']})",
        f"{'body pose accuracy (classified)':34s} {result['body_accuracy_classified']}",
        f"{'body pose coverage':34s} {result['body_coverage']}",
        f"{'shot type accuracy':34s} {result['shot_accuracy']} (n={result['shot_rows']})",
    ]
    for name, conf in result["confusion"].items():
        lines.append(f"  {name:32s} {conf}")
    for video, info in result["tracking"].items():
        lines.append(f"  tracking {video}: {info}")
    lines.append(f"  quality by sharpness label: {result['quality_by_sharpness_label']}")
    lines.append(f"  seconds: {result['seconds']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=ROOT.parent / "shared" / "data" / "labels")
    parser.add_argument("--detector", default="centerface")
    parser.add_argument("--max-side", type=int, help="detector input side (default: config)")
    parser.add_argument("--no-coarse", action="store_true", help="no second, coarse pass")
    args = parser.parse_args()
    start = time.perf_counter()
    result = run(args.labels, args.detector, args.max_side, not args.no_coarse)
    result["seconds"]["total"] = round(time.perf_counter() - start, 2)
    print(table(result), file=sys.stderr)
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
