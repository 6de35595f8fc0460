"""Who is who over a video's scanned frames: a person id for every person of every frame
(``person_ids``), faces tracked by :func:`personframes.analyze.track_people`, and people
found by their body alone linked to the face-person whose body they continue.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from ..analyze import Observation, track_people
from ..detect.pose import SAME_BODY_IOU
from ..state.records import PersonRecord, ScanFrame
from ..types import Box, FaceDetection


def person_ids(
    frames: list[ScanFrame], cuts: list[int], min_detail: float = 0.0
) -> list[list[int]]:
    """Person id per person of every frame; no track continues across a shot cut.

    Faces are tracked by :func:`track_people`, with their identity embeddings where the
    face has at least ``min_detail`` (a defocused or dark face's embedding lies near
    every other such face's: on the labelled frames the uncounted audience blobs of one
    frame measured 0.14-0.38 apart, closer than one person's own faces). A person found
    by their body alone is the person whose body box overlaps theirs (``SAME_BODY_IOU``)
    in the nearest frame of the same shot within ``LINK_S`` (someone who turned away);
    bodies that match nobody are tracked among themselves, by body box, and get new ids.
    """
    observations = [
        Observation(
            frame_index=f.index,
            time_s=f.time_s,
            detections=[face.detection() for face in f.faces],
            signatures=[np.asarray(p.signature, np.float32) for p in f.people[: len(f.faces)]],
            embeddings=[
                None
                if p.identity is None or p.face_quality.sharpness < min_detail
                else np.asarray(p.identity, np.float32)
                for p in f.people[: len(f.faces)]
            ],
        )
        for f in frames
    ]
    ids = track_people(observations, cuts)
    return [row + extra for row, extra in zip(ids, _faceless_ids(frames, ids, cuts), strict=True)]


LINK_S = 2.0  # a body without a face takes the id of a face-person seen this close in time


Seen = tuple[int, float, int, Box]  # (shot, time, id, body box) of a person with a face
Faceless = list[tuple[int, ScanFrame]]  # (position, frame) of the frames with faceless people


def _faceless_ids(
    frames: list[ScanFrame], ids: list[list[int]], cuts: list[int]
) -> list[list[int]]:
    """Ids for the people past each frame's faces (see :func:`person_ids`)."""
    faceless = [(i, f) for i, f in enumerate(frames) if len(f.people) > len(f.faces)]
    tracks = _track_bodies(faceless, cuts)
    votes, beside = _meetings(faceless, tracks, ids, _seen(frames, ids, cuts), cuts)
    first_new = max((i for row in ids for i in row), default=0) + 1
    named = _name_tracks(tracks, votes, beside, first_new)
    out: list[list[int]] = [[] for _ in frames]
    for (i, _), track_row in zip(faceless, tracks, strict=True):
        out[i] = [named[t] for t in track_row]
    return out


def _shot(cuts: list[int], index: int) -> int:
    return sum(1 for c in cuts if c <= index)


def _seen(frames: list[ScanFrame], ids: list[list[int]], cuts: list[int]) -> list[Seen]:
    """Every sighting of a person with a face, where their body box is known."""
    return [
        (_shot(cuts, f.index), f.time_s, person_id, Box(*p.body_box))
        for f, row in zip(frames, ids, strict=True)
        for p, person_id in zip(f.people[: len(f.faces)], row, strict=True)
        if p.body_box is not None
    ]


def _track_bodies(faceless: Faceless, cuts: list[int]) -> list[list[int]]:
    """The people found by their body alone, tracked among themselves by body box."""
    return track_people(
        [
            Observation(
                frame_index=f.index,
                time_s=f.time_s,
                detections=[FaceDetection(box, 1.0) for box in _body_boxes(f)],
                signatures=[np.asarray(p.signature, np.float32) for p in _bodies(f)],
            )
            for _, f in faceless
        ],
        cuts,
    )


def _meetings(
    faceless: Faceless,
    tracks: list[list[int]],
    ids: list[list[int]],
    seen: list[Seen],
    cuts: list[int],
) -> tuple[dict[int, Counter[int]], dict[int, set[int]]]:
    """Per body track: the face-people whose body it continued (and how often), and
    those seen beside it in its own frames."""
    votes: dict[int, Counter[int]] = defaultdict(Counter)  # body track -> face ids it met
    beside: dict[int, set[int]] = defaultdict(set)  # body track -> face ids in its frames
    for (i, f), track_row in zip(faceless, tracks, strict=True):
        s = _shot(cuts, f.index)
        for box, track in zip(_body_boxes(f), track_row, strict=True):
            beside[track].update(ids[i])
            met = _nearest(seen, s, f.time_s, box)
            if met is not None:
                votes[track][met] += 1
    return votes, beside


def _nearest(seen: list[Seen], shot: int, time_s: float, box: Box) -> int | None:
    """The face-person nearest in time (within ``LINK_S``) whose body overlaps ``box``."""
    near = [
        (abs(t - time_s), person_id)
        for s2, t, person_id, other in seen
        if s2 == shot and abs(t - time_s) <= LINK_S and box.iou(other) >= SAME_BODY_IOU
    ]
    return min(near)[1] if near else None


def _name_tracks(
    tracks: list[list[int]],
    votes: dict[int, Counter[int]],
    beside: dict[int, set[int]],
    next_id: int,
) -> dict[int, int]:
    """Each body track's id: the face id it met most, never one seen beside it in one of
    its frames (two people); else a new id from ``next_id`` on."""
    named: dict[int, int] = {}
    for track in sorted({t for row in tracks for t in row}):
        allowed = [(n, pid) for pid, n in votes[track].items() if pid not in beside[track]]
        if allowed:
            named[track] = max(allowed)[1]
        else:
            named[track], next_id = next_id, next_id + 1
    return named


def _bodies(frame: ScanFrame) -> list[PersonRecord]:
    """The frame's people found by their body alone."""
    return frame.people[len(frame.faces) :]


def _body_boxes(frame: ScanFrame) -> list[Box]:
    """The body boxes of the frame's people found by their body alone (ScanFrame makes
    sure each has one)."""
    return [Box(*p.body_box) for p in _bodies(frame) if p.body_box is not None]
