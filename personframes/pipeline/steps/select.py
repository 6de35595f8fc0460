"""Select: pick frames per category from the video's analysis, and record them named."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Literal

from ...config import OutputConfig, SelectionConfig
from ...output.naming import NO_FACE, OutputKind
from ...state.records import INFO_KEY, FaceScores, Number, ScanInfo, SelectInfo, SelectItem
from ..context import RunContext
from ..reference import (
    PersonMatch,
    ReferenceFaces,
    load_reference_faces,
    match_people,
    nearest_reference,
)
from ..selection import Candidate, Selected, name_outputs, select_frames
from ..video_analysis import VideoAnalysis, analyze_video
from .base import Step
from .scan import scan_results

log = logging.getLogger(__name__)

Sighting = tuple[int, int]  # (frame index, detection index): one person in one frame
NoFaceCrop = Literal["faceless", "turned_away", "too_small", "blurred"]


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
        candidates = matching_candidates(video, references, matches)
        kept_ids = most_seen(candidates, cfg.selection.people)
        selected = select_frames(
            kept_candidates(candidates, kept_ids),
            cfg.selection,
            cfg.quality,
            dedup_distance=cfg.sampling.dedup_distance,
        )
        plan = Plan(video, references, matches, cfg.selection)
        kinds = output_kinds(cfg.output)
        for kind, name, chosen in name_outputs(selected, ctx.stem, kinds, cfg.output.format):
            plan.add(kind, name, chosen)
        log_left_out(ctx, plan.no_face_crop, video.poses_carried)
        summary = select_info(info, video, plan, len(selected), kept_ids)
        ctx.store.commit_progress(
            self.NAME, len(plan.items), [*plan.items, (INFO_KEY, -1, summary)], done=True
        )


class Plan:
    """The select step's records in the making: one per output file, in the order
    ``name_outputs`` names them, and the face crops left out, by why."""

    def __init__(
        self,
        video: VideoAnalysis,
        references: ReferenceFaces,
        matches: dict[int, PersonMatch],
        selection: SelectionConfig,
    ) -> None:
        self.scores: dict[Sighting, FaceScores] = {
            sighting(p.candidate): FaceScores.model_validate(p.quality) for p in video.people
        }
        self.identity = {sighting(p.candidate): p.identity for p in video.people}
        self.references = references
        self.matches = matches
        self.selection = selection
        self.items: list[tuple[str, int, SelectItem]] = []
        self.no_face_crop: Counter[NoFaceCrop] = Counter()
        self._by_name: dict[str, int] = {}  # name -> its place in items

    def add(self, kind: OutputKind, name: str, chosen: Selected) -> None:
        """Plan output ``name`` of ``chosen``, unless it is a face crop left out."""
        c = chosen.candidate
        if kind == "face":
            detail = self.scores[sighting(c)].sharpness_laplacian_var
            why = no_face_crop(c, detail, self.selection)
            if why is not None:
                self.no_face_crop[why] += 1
                return
        if name in self._by_name:  # the same full frame, chosen for another person too
            self._add_person(name, c.person_id)
            return
        self._by_name[name] = len(self.items)
        self.items.append((name, len(self.items), self._item(kind, name, chosen)))

    def _add_person(self, name: str, person_id: int) -> None:
        place = self._by_name[name]
        first = self.items[place][2]
        ids = [*(first.person_ids or [first.person_id]), person_id]
        self.items[place] = (name, place, first.model_copy(update={"person_ids": ids}))

    def _item(self, kind: OutputKind, name: str, chosen: Selected) -> SelectItem:
        c = chosen.candidate
        return SelectItem(
            kind=kind,
            file=name,
            frame_index=c.frame_index,
            face=c.detection_index,
            person_id=c.person_id,
            pose=c.pose,
            head_direction=c.head_direction,
            shot_type=c.shot_type,
            rank=chosen.rank,
            quality=self.scores[sighting(c)],
            reason=chosen.reason,
            seq=len(self.items),
            reference_distance=nearest_reference(self.identity[sighting(c)], self.references)
            if kind == "face"
            else None,
            person_reference_distance=self.matches[c.person_id].distance,
        )


def sighting(candidate: Candidate) -> Sighting:
    return (candidate.frame_index, candidate.detection_index)


def matching_candidates(
    video: VideoAnalysis, references: ReferenceFaces, matches: dict[int, PersonMatch]
) -> list[Candidate]:
    """Every person's candidates, or with --reference-face / --exclude-face only those
    of the people the photos keep."""
    return [
        p.candidate
        for p in video.people
        if not references.active or matches[p.candidate.person_id].kept
    ]


def kept_candidates(candidates: list[Candidate], kept_ids: set[int] | None) -> list[Candidate]:
    """The candidates of the people ``most_seen`` kept (None: everyone)."""
    return [c for c in candidates if kept_ids is None or c.person_id in kept_ids]


def output_kinds(output: OutputConfig) -> list[OutputKind]:
    """The kinds of output the settings ask for, in naming order."""
    wanted: dict[OutputKind, bool] = {
        "frame": output.full_frames,
        "face": output.face_crops,
        "body": output.body_crops,
    }
    return [kind for kind, on in wanted.items() if on]


def no_face_crop(
    candidate: Candidate, detail: Number, selection: SelectionConfig
) -> NoFaceCrop | None:
    """Why ``candidate`` gets no face crop (None: it gets one); ``detail`` is its face's
    sharpness (Laplacian variance)."""
    if candidate.head_direction == NO_FACE:
        return "faceless"  # a person found by their body alone: no face to crop
    if not faces_camera(candidate, selection.min_profile_score):
        return "turned_away"  # the back of a head, or hair over a face
    if candidate.face_size < selection.min_face_size:
        return "too_small"  # too small to restore or to enlarge
    if detail < selection.min_face_sharpness:
        return "blurred"  # too defocused or dark to be a training image
    return None


def log_left_out(ctx: RunContext, left_out: Counter[NoFaceCrop], poses_carried: int) -> None:
    """Say (at DEBUG) what the select step left out or carried; the summary counts it."""
    if left_out["too_small"] or left_out["blurred"] or left_out["turned_away"]:
        log.debug(
            "%s: no face crop for %d faces under %d px, %d without detail, %d turned away",
            ctx.video_path.name,
            left_out["too_small"],
            ctx.config.selection.min_face_size,
            left_out["blurred"],
            left_out["turned_away"],
        )
    if poses_carried:
        log.debug(
            "%s: %d waist-up sightings took the pose the same person has nearby",
            ctx.video_path.name,
            poses_carried,
        )


def select_info(
    info: ScanInfo, video: VideoAnalysis, plan: Plan, selected: int, kept_ids: set[int] | None
) -> SelectInfo:
    """The select step's summary record (``kept_ids``: the people ``most_seen`` kept)."""
    left_out = plan.no_face_crop
    return SelectInfo(
        shot_cuts=info.shot_cuts,
        people=video.person_count,
        candidates_unknown_head=video.unknown_head,
        selected=selected,
        face_crops_too_small=left_out["too_small"],
        face_crops_blurred=left_out["blurred"],
        face_crops_turned_away=left_out["turned_away"],
        faceless_sightings=video.faceless,
        poses_carried=video.poses_carried,
        people_left_out=0 if kept_ids is None else video.person_count - len(kept_ids),
        people_not_matching_reference=sum(1 for m in plan.matches.values() if not m.kept)
        if plan.references.active
        else 0,
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


def people_kept(ctx: RunContext, video: VideoAnalysis) -> set[int]:
    """The ids of the people the selection keeps (--reference-face, --exclude-face,
    --people), for the steps after it that choose by person (clips)."""
    cfg = ctx.config.selection
    references = load_reference_faces(ctx.config, ctx.models)
    matches = match_people(video.identities(), references, cfg.reference_distance)
    candidates = matching_candidates(video, references, matches)
    return {c.person_id for c in kept_candidates(candidates, most_seen(candidates, cfg.people))}
