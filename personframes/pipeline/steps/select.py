"""Select: link people over time, score quality, pick frames per category, name outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...analyze import (
    Observation,
    QualityMetrics,
    percentile_ranks,
    score_quality,
    track_people,
)
from ...output.naming import NameParts, Namer
from ...select import Candidate, select_frames
from ..context import RunContext
from ..records import INFO_KEY, Record, ScanFrame, SelectInfo, SelectItem
from .base import Step
from .scan import scan_results


def person_ids(frames: list[ScanFrame], cuts: list[int]) -> list[list[int]]:
    """Person id per face of every frame; no track continues across a shot cut."""
    observations = [
        Observation(
            frame_index=f.index,
            time_s=f.time_s,
            detections=[face.detection() for face in f.faces],
            signatures=[np.asarray(p.signature, np.float32) for p in f.people],
        )
        for f in frames
    ]
    return track_people(observations, cuts)


def face_scores(frames: list[ScanFrame]) -> list[list[dict[str, float]]]:
    """Quality of every face region, sharpness ranked within this video."""
    metrics = [
        [
            QualityMetrics(
                sharpness=p.face_quality.sharpness,
                brightness=p.face_quality.brightness,
                contrast=p.face_quality.contrast,
                noise=p.face_quality.noise,
            )
            for p in f.people
        ]
        for f in frames
    ]
    flat = [m for per_frame in metrics for m in per_frame]
    ranks = iter(percentile_ranks([m.sharpness for m in flat]))
    scores = []
    for per_frame in metrics:
        row = []
        for m in per_frame:
            s = score_quality(m, next(ranks))
            row.append(
                {
                    "overall": round(s.overall, 4),
                    "sharpness": round(s.sharpness, 4),
                    "exposure": round(s.exposure, 4),
                    "contrast": round(s.contrast, 4),
                    "noise": round(s.noise, 4),
                    "sharpness_laplacian_var": round(m.sharpness, 2),
                }
            )
        scores.append(row)
    return scores


class SelectStep(Step):
    NAME = "select"
    SECTIONS = (
        "quality",
        "selection",
        "sampling.dedup_distance",
        "output.format",  # the names' extension
        "output.full_frames",
        "output.face_crops",
        "output.body_crops",
    )

    def run(self, ctx: RunContext) -> None:
        cfg = ctx.config
        info, frames = scan_results(ctx)
        cuts = info.shot_cuts
        ids = person_ids(frames, cuts)
        scores = face_scores(frames)
        candidates: list[Candidate] = []
        details: dict[tuple[int, int], dict[str, Any]] = {}
        unknown_head = 0
        for f, frame_ids, frame_scores in zip(frames, ids, scores, strict=True):
            for j, (person, face) in enumerate(zip(f.people, f.faces, strict=True)):
                box = face.detection().box
                if person.head.direction == "unknown":
                    unknown_head += 1
                candidates.append(
                    Candidate(
                        person_id=frame_ids[j],
                        frame_index=f.index,
                        time_s=f.time_s,
                        pose=person.pose.class_,
                        head_direction=person.head.direction,
                        shot_type=person.shot.type,
                        quality=frame_scores[j]["overall"],
                        face_size=max(box.width, box.height),
                        dhash=int(f.dhash, 16),
                        detection_index=j,
                    )
                )
                details[(f.index, j)] = frame_scores[j]
        selected = select_frames(
            candidates, cfg.selection, cfg.quality, dedup_distance=cfg.sampling.dedup_distance
        )
        people = {s.candidate.person_id for s in selected}
        namer = Namer(ctx.stem, with_person=len(people) > 1, ext=cfg.output.format)
        kinds = [
            kind
            for kind, wanted in (
                ("frame", cfg.output.full_frames),
                ("face", cfg.output.face_crops),
                ("body", cfg.output.body_crops),
            )
            if wanted
        ]
        items: list[tuple[str, int, Record]] = []
        for chosen in selected:
            c = chosen.candidate
            for kind in kinds:
                name = namer.name(
                    NameParts(kind, c.person_id, c.pose, c.head_direction, c.shot_type)
                )
                item = SelectItem(
                    kind=kind,  # type: ignore[arg-type]
                    file=name,
                    frame_index=c.frame_index,
                    face=c.detection_index,
                    person_id=c.person_id,
                    pose=c.pose,
                    head_direction=c.head_direction,
                    shot_type=c.shot_type,
                    rank=chosen.rank,
                    quality=details[(c.frame_index, c.detection_index)],
                    reason=chosen.reason,
                    seq=len(items),
                )
                items.append((name, len(items), item))
        summary = SelectInfo(
            shot_cuts=cuts,
            people=len({i for row in ids for i in row}),
            candidates_unknown_head=unknown_head,
            selected=len(selected),
        )
        ctx.store.commit_progress(
            ctx.video_key, self.NAME, len(items), [*items, (INFO_KEY, -1, summary)], done=True
        )
