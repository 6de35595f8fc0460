"""Select: pick frames per category from the video's analysis, and record them named."""

from __future__ import annotations

import logging
from collections import Counter

from ...output.naming import NO_FACE, OutputKind
from ...state.records import INFO_KEY, Record, SelectInfo, SelectItem
from ..context import RunContext
from ..reference import load_reference_faces, match_people, nearest_reference
from ..selection import Candidate, name_outputs, select_frames
from ..video_analysis import analyze_video
from .base import Step
from .scan import scan_results

log = logging.getLogger(__name__)


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
        video = analyze_video(frames, info.shot_cuts, cfg.selection.min_face_sharpness)
        references = load_reference_faces(cfg, ctx.models)
        matches = match_people(video.identities(), references, cfg.selection.reference_distance)
        candidates = [
            p.candidate
            for p in video.people
            if not references.active or matches[p.candidate.person_id].kept
        ]
        kept_ids = most_seen(candidates, cfg.selection.people)
        selected = select_frames(
            [c for c in candidates if kept_ids is None or c.person_id in kept_ids],
            cfg.selection,
            cfg.quality,
            dedup_distance=cfg.sampling.dedup_distance,
        )
        quality = {
            (p.candidate.frame_index, p.candidate.detection_index): p.quality for p in video.people
        }
        identity = {
            (p.candidate.frame_index, p.candidate.detection_index): p.identity for p in video.people
        }
        wanted: dict[OutputKind, bool] = {
            "frame": cfg.output.full_frames,
            "face": cfg.output.face_crops,
            "body": cfg.output.body_crops,
        }
        kinds = [kind for kind, on in wanted.items() if on]
        items: list[tuple[str, int, Record]] = []
        by_name: dict[str, int] = {}  # name -> its place in items
        too_small = blurred = turned_away = 0
        for kind, name, chosen in name_outputs(selected, ctx.stem, kinds, cfg.output.format):
            c = chosen.candidate
            if kind == "face" and c.head_direction == NO_FACE:
                continue  # a person found by their body alone: no face to crop
            if kind == "face" and not faces_camera(c, cfg.selection.min_profile_score):
                turned_away += 1  # no face crop: the back of a head, or hair over a face
                continue
            if kind == "face" and c.face_size < cfg.selection.min_face_size:
                too_small += 1  # no face crop: too small to restore or to enlarge
                continue
            detail = quality[(c.frame_index, c.detection_index)]["sharpness_laplacian_var"]
            if kind == "face" and detail < cfg.selection.min_face_sharpness:
                blurred += 1  # no face crop: too defocused or dark to be a training image
                continue
            if name in by_name:  # the same full frame, chosen for another person too
                place = by_name[name]
                first = items[place][2]
                assert isinstance(first, SelectItem)
                ids = [*(first.person_ids or [first.person_id]), c.person_id]
                items[place] = (name, place, first.model_copy(update={"person_ids": ids}))
                continue
            item = SelectItem(
                kind=kind,
                file=name,
                frame_index=c.frame_index,
                face=c.detection_index,
                person_id=c.person_id,
                pose=c.pose,
                head_direction=c.head_direction,
                shot_type=c.shot_type,
                rank=chosen.rank,
                quality=quality[(c.frame_index, c.detection_index)],
                reason=chosen.reason,
                seq=len(items),
                reference_distance=nearest_reference(
                    identity[(c.frame_index, c.detection_index)], references
                )
                if kind == "face"
                else None,
                person_reference_distance=matches[c.person_id].distance,
            )
            by_name[name] = len(items)
            items.append((name, len(items), item))
        if too_small or blurred or turned_away:
            log.debug(
                "%s: no face crop for %d faces under %d px, %d without detail, %d turned away",
                ctx.video_path.name,
                too_small,
                cfg.selection.min_face_size,
                blurred,
                turned_away,
            )
        if video.poses_carried:
            log.debug(
                "%s: %d waist-up sightings took the pose the same person has nearby",
                ctx.video_path.name,
                video.poses_carried,
            )
        summary = SelectInfo(
            shot_cuts=info.shot_cuts,
            people=video.person_count,
            candidates_unknown_head=video.unknown_head,
            selected=len(selected),
            face_crops_too_small=too_small,
            face_crops_blurred=blurred,
            face_crops_turned_away=turned_away,
            faceless_sightings=video.faceless,
            poses_carried=video.poses_carried,
            people_left_out=0 if kept_ids is None else video.person_count - len(kept_ids),
            people_not_matching_reference=sum(1 for m in matches.values() if not m.kept)
            if references.active
            else 0,
        )
        ctx.store.commit_progress(
            self.NAME, len(items), [*items, (INFO_KEY, -1, summary)], done=True
        )


def most_seen(candidates: list[Candidate], people: int | None) -> set[int] | None:
    """The ids of the ``people`` people seen in the most candidate frames (ties: the
    one seen first), or None to keep everyone."""
    if people is None:
        return None
    seen = Counter(c.person_id for c in candidates)
    first: dict[int, float] = {}
    for c in sorted(candidates, key=lambda c: c.time_s):
        first.setdefault(c.person_id, c.time_s)
    ranked = sorted(seen, key=lambda pid: (-seen[pid], first[pid]))
    return set(ranked[:people])


def faces_camera(candidate: Candidate, min_profile_score: float) -> bool:
    """True when a face crop of ``candidate`` shows a face turned toward the camera: the
    face mesh found one (frontal to three-quarter), or, where the mesh cannot fit (a
    profile), the detector is at least ``min_profile_score`` sure of it. On the labelled
    frames the backs of heads and faces hidden by hair that the detector finds score
    0.10-0.30, profiles 0.40-0.85."""
    return candidate.mesh_fit or candidate.face_score >= min_profile_score
