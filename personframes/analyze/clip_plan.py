"""Where a person's clips go: spans of one shot in which the scan saw them in every
sampled frame, cut into windows of 4n+1 frames, ranked by quality, at most N each.

Pure functions over the scan's sightings; the clips step decodes and tracks them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..types import Box


@dataclass(frozen=True)
class Sighting:
    """One person in one sampled frame, as the scan and the person ids saw them."""

    person_id: int
    frame_index: int
    time_s: float
    shot: int  # the shot's number (0: before the first cut)
    face: Box | None  # None: found by their body alone
    body: Box | None
    quality: float  # 0..1, ranked within the video (as frames are)
    sharpness: float  # the face's (or body's) Laplacian variance
    pose: str
    head_direction: str
    shot_type: str


@dataclass(frozen=True)
class ClipWindow:
    """Frames ``start_s + k / fps`` for k < ``frames`` of one person in one shot."""

    person_id: int
    shot: int
    start_s: float
    frames: int
    fps: float
    sightings: tuple[Sighting, ...]  # the scan's sightings inside the window

    @property
    def end_s(self) -> float:
        """The time of the last frame."""
        return self.start_s + (self.frames - 1) / self.fps

    @property
    def times(self) -> list[float]:
        return [self.start_s + k / self.fps for k in range(self.frames)]

    @property
    def quality(self) -> float:
        return statistics.fmean(s.quality for s in self.sightings)

    @property
    def sharpness(self) -> float:
        return statistics.median(s.sharpness for s in self.sightings)

    def overlaps(self, other: ClipWindow) -> bool:
        return self.start_s <= other.end_s and other.start_s <= self.end_s


def four_n_plus_one(frames: int) -> int:
    """The largest count of the form 4n+1 not above ``frames`` (0 below 1)."""
    return 0 if frames < 1 else (frames - 1) // 4 * 4 + 1


def frames_in(duration_s: float, fps: float) -> int:
    """How many frames at ``fps`` fit in ``duration_s`` (both ends included)."""
    return math.floor(duration_s * fps + 1e-6) + 1


def runs(sightings: list[Sighting], sampled: list[tuple[float, int]]) -> list[list[Sighting]]:
    """One person's sightings split into runs: consecutive sampled frames of one shot
    that all show them. ``sampled`` is every kept sampled frame as (time, shot): a
    sampled frame of the same shot without them ends a run."""
    seen = {s.time_s: s for s in sightings}
    out: list[list[Sighting]] = []
    current: list[Sighting] = []
    for time_s, shot in sorted(sampled):
        here = seen.get(time_s)
        if here is None or (current and current[-1].shot != shot):
            if current:
                out.append(current)
            current = []
        if here is not None:
            current.append(here)
    if current:
        out.append(current)
    return out


def windows(run: list[Sighting], fps: float, most: int, fewest: int) -> list[ClipWindow]:
    """A run cut into back-to-back windows of ``most`` frames (the last one shorter, if
    it still has ``fewest``), each inside the run's first and last sighting."""
    start, end = run[0].time_s, run[-1].time_s
    out: list[ClipWindow] = []
    while True:
        frames = four_n_plus_one(min(most, frames_in(end - start, fps)))
        if frames < fewest:
            return out
        last = start + (frames - 1) / fps
        inside = tuple(s for s in run if start - 1e-6 <= s.time_s <= last + 1e-6)
        if not inside:  # sightings further apart than a window: take the next one
            following = [s for s in run if s.time_s > last]
            if not following:
                return out
            start = following[0].time_s
            continue
        out.append(ClipWindow(run[0].person_id, run[0].shot, start, frames, fps, inside))
        start = start + frames / fps


def plan_clips(
    sightings: list[Sighting],
    sampled: list[tuple[float, int]],
    *,
    fps: float,
    most: int,
    fewest: int,
    per_person: int,
    min_sharpness: float,
    exclusive: bool,
) -> tuple[list[ClipWindow], int]:
    """Each person's best windows (at most ``per_person``, sharp enough: the median
    sharpness of their sightings at least ``min_sharpness``), in time order, and how
    many windows were too soft. ``exclusive``: no two clips overlap in time at all
    (whole-frame clips of two people at once would be the same pictures)."""
    people = sorted({s.person_id for s in sightings})
    chosen: list[ClipWindow] = []
    soft = 0
    for person in people:
        own = [s for s in sightings if s.person_id == person]
        found = [w for run in runs(own, sampled) for w in windows(run, fps, most, fewest)]
        sharp = [w for w in found if w.sharpness >= min_sharpness]
        soft += len(found) - len(sharp)
        taken: list[ClipWindow] = []
        for window in sorted(sharp, key=lambda w: (-w.quality, w.start_s)):
            if len(taken) == per_person:
                break
            if exclusive and any(window.overlaps(c) for c in chosen):
                continue
            taken.append(window)
            chosen.append(window)
    return sorted(chosen, key=lambda w: (w.person_id, w.start_s)), soft
