"""Choose the frames to keep: per person, per (body pose, head direction) category.

:func:`select_frames` is a pure function over :class:`Candidate` values.
For each person and category it takes candidates in rank order and keeps
one when it is

- at or above the quality threshold (``QualityConfig.threshold``),
- at least ``min_seconds_apart`` from every frame already kept for that
  person and category (the first one kept is never blocked, so no category
  with a good candidate stays empty: the only case where the spacing would
  matter is the one it cannot occur in), and
- visually distinct from them: dHash Hamming distance above ``dedup_distance``,

up to ``max_frames_per_category``. If fewer than ``min_frames_per_category``
(capped at the maximum) were kept, a second pass drops the dHash
condition (never the spacing) to fill up to the minimum. Candidates whose
head direction is ``unknown`` are not selected (no usable face angle); a body
pose of ``unknown`` is a category of its own (typical for close-ups where
the body is not in view).

Rank: ``0.8 * quality + 0.2 * min(1, face_size / FACE_SIZE_FULL)``: quality
first, larger faces preferred among equals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config import QualityConfig, SelectionConfig
from ..output.naming import NameParts, Namer, OutputKind
from ..video.sampling import hamming

FACE_SIZE_FULL = 256.0  # face size (px) that earns the full size bonus


@dataclass(frozen=True)
class Candidate:
    """One person in one frame, analysed."""

    person_id: int
    frame_index: int
    time_s: float
    pose: str
    head_direction: str
    shot_type: str
    quality: float  # 0..1
    face_size: float  # px, e.g. the face box's longer side
    dhash: int  # 64-bit difference hash of the frame (or crop)
    detection_index: int = 0  # which person in the frame (faces first, then bodies alone)
    face_score: float = 1.0  # the face detector's score (0: no face found)
    mesh_fit: bool = True  # the face mesh found a face there (frontal to three-quarter)

    @property
    def category(self) -> tuple[str, str]:
        return (self.pose, self.head_direction)


@dataclass(frozen=True)
class Selected:
    candidate: Candidate
    rank: int  # 1-based within its person and category
    reason: str


def rank_score(candidate: Candidate) -> float:
    return 0.8 * candidate.quality + 0.2 * min(1.0, candidate.face_size / FACE_SIZE_FULL)


def select_frames(
    candidates: Iterable[Candidate],
    selection: SelectionConfig,
    quality: QualityConfig,
    dedup_distance: int,
) -> list[Selected]:
    """The selected candidates, ordered by person, category, rank."""
    groups: dict[tuple[int, str, str], list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.head_direction == "unknown":
            continue
        groups[(c.person_id, c.pose, c.head_direction)].append(c)
    out: list[Selected] = []
    for key in sorted(groups):
        out.extend(_select_group(key, groups[key], selection, quality, dedup_distance))
    return out


def _select_group(
    key: tuple[int, str, str],
    members: Sequence[Candidate],
    selection: SelectionConfig,
    quality: QualityConfig,
    dedup_distance: int,
) -> list[Selected]:
    person, pose, head = key
    pool = sorted(
        (c for c in members if c.quality >= quality.threshold),
        key=lambda c: (-rank_score(c), c.time_s, c.frame_index, c.detection_index),
    )
    kept: list[Candidate] = []
    notes: dict[int, str] = {}

    def spaced(c: Candidate) -> bool:
        return all(abs(c.time_s - k.time_s) >= selection.min_seconds_apart for k in kept)

    def distinct(c: Candidate) -> bool:
        return all(hamming(c.dhash, k.dhash) > dedup_distance for k in kept)

    for c in pool:
        if len(kept) >= selection.max_frames_per_category:
            break
        if spaced(c) and distinct(c):
            kept.append(c)
    minimum = min(selection.min_frames_per_category, selection.max_frames_per_category)
    if len(kept) < minimum:
        for c in pool:
            if len(kept) >= minimum:
                break
            if c not in kept and spaced(c):
                kept.append(c)
                notes[id(c)] = "; near-duplicate look allowed to reach the minimum"
    kept.sort(key=lambda c: (-rank_score(c), c.time_s))
    return [
        Selected(
            candidate=c,
            rank=i,
            reason=(
                f"rank {i} in {pose}/{head} for person {person}: quality {c.quality:.2f}, "
                f"face {c.face_size:.0f} px, t={c.time_s:.2f}s" + notes.get(id(c), "")
            ),
        )
        for i, c in enumerate(kept, start=1)
    ]


def name_outputs(
    selected: Sequence[Selected], stem: str, kinds: Sequence[OutputKind], ext: str
) -> list[tuple[OutputKind, str, Selected]]:
    """Each selected frame's outputs, one per kind, named in selection order (with
    ``_person{id}`` when more than one person was selected). A full frame chosen for
    several people is one file: the later ones get the first one's name."""
    people = {chosen.candidate.person_id for chosen in selected}
    namer = Namer(stem, with_person=len(people) > 1, ext=ext)
    named: list[tuple[OutputKind, str, Selected]] = []
    frames: dict[int, str] = {}  # frame index -> its full frame's name
    for chosen in selected:
        c = chosen.candidate
        for kind in kinds:
            if kind == "frame" and c.frame_index in frames:
                named.append((kind, frames[c.frame_index], chosen))
                continue
            parts = NameParts(kind, c.person_id, c.pose, c.head_direction, c.shot_type)
            name = namer.name(parts)
            if kind == "frame":
                frames[c.frame_index] = name
            named.append((kind, name, chosen))
    return named
