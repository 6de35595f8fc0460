"""Analysis across a video's scanned frames, before selection: person ids (:mod:`.people`),
quality relative to the video (``face_scores``), and the candidates selection chooses from
(``analyze_video``).

Reads the per-frame records :mod:`.frame_analysis` made (kept by the state store).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analyze import QualityMetrics, carry_poses, percentile_ranks, score_quality
from ..detect.face_identity import Embedding
from ..output.naming import NO_FACE
from ..state.records import ScanFrame
from .people import person_ids
from .selection import Candidate


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


@dataclass(frozen=True)
class PersonInFrame:
    """One face of one candidate frame, ready for selection: who it is, and its quality
    ranked within the video."""

    candidate: Candidate
    quality: dict[str, float]
    identity: Embedding | None = None  # where the face has one and detail enough to trust


@dataclass(frozen=True)
class VideoAnalysis:
    people: list[PersonInFrame]
    person_count: int  # distinct person ids
    unknown_head: int  # faces whose head direction is unknown
    poses_carried: int = 0  # waist-up sightings given the same person's pose nearby
    faceless: int = 0  # sightings of people found by their body alone

    def identities(self) -> dict[int, list[Embedding]]:
        """Per person id, the identities of their faces that have one (maybe none)."""
        out: dict[int, list[Embedding]] = {}
        for p in self.people:
            faces = out.setdefault(p.candidate.person_id, [])
            if p.identity is not None:
                faces.append(p.identity)
        return out


def analyze_video(
    frames: list[ScanFrame], cuts: list[int], min_detail: float = 0.0
) -> VideoAnalysis:
    """The cross-frame half of the analysis: person ids (no track across a shot cut;
    identity from faces with at least ``min_detail``) and video-relative quality, for
    every person of every scanned frame (a person found by their body alone is ranked
    by their body's quality and has no face size)."""
    ids = person_ids(frames, cuts, min_detail)
    scores = face_scores(frames)
    poses = iter(
        carry_poses(
            [
                (f.time_s, frame_ids[j], p.pose.class_, p.pose.reason)
                for f, frame_ids in zip(frames, ids, strict=True)
                for j, p in enumerate(f.people)
            ]
        )
    )
    people: list[PersonInFrame] = []
    carried = 0
    for f, frame_ids, frame_scores in zip(frames, ids, scores, strict=True):
        for j, person in enumerate(f.people):
            pose, source = next(poses)
            carried += source is not None
            face = f.faces[j] if j < len(f.faces) else None
            box = face.detection().box if face is not None else None
            candidate = Candidate(
                person_id=frame_ids[j],
                frame_index=f.index,
                time_s=f.time_s,
                pose=pose,
                head_direction=person.head.direction,
                shot_type=person.shot.type,
                quality=frame_scores[j]["overall"],
                face_size=0.0 if box is None else max(box.width, box.height),
                dhash=int(f.dhash, 16),
                detection_index=j,
                face_score=0.0 if face is None else face.score,
                mesh_fit=person.head.method == "mesh",
            )
            trusted = person.identity is not None and person.face_quality.sharpness >= min_detail
            identity = np.asarray(person.identity, np.float32) if trusted else None
            people.append(PersonInFrame(candidate, frame_scores[j], identity))
    unknown = sum(1 for p in people if p.candidate.head_direction == "unknown")
    faceless = sum(1 for p in people if p.candidate.head_direction == NO_FACE)
    return VideoAnalysis(people, len({i for row in ids for i in row}), unknown, carried, faceless)
