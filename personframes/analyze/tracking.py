"""People over time: link face detections across frames into person ids.

Within a shot, a detection continues a track when its box overlaps the
track's last box (IoU) or its centre is close relative to the face size
(allowing for movement since it was last seen), and the sizes agree; after a
longer gap in the same shot (the face was turned away), when it reappears
near where it was. The appearance must not contradict the track. A detection that continues no
track (a new shot, a long gap, a new face) is compared by appearance with
every person seen so far: an HSV colour histogram of the face and the upper
body below it (:func:`appearance_signature`). Similar enough: the same
person; otherwise a new id. Two detections of one frame never share an id.

Face identity decides over colour where both sides have it: an embedding per face
(:mod:`personframes.detect.face_identity`, given only for faces turned toward the
camera with detail enough to tell people apart). A face whose embedding lies further
than ``split_distance`` from its track's mean starts a new person even where the
boxes overlap; a face that continues no track is the person whose mean embedding
lies nearest, within ``same_distance``; between that and ``differ_distance`` identity
is undecided and colour decides; beyond it, colour never joins them.
The ``cuts`` argument of :func:`track_people` comes from
:func:`personframes.video.cuts.find_shot_cuts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from ..detect.face_identity import Embedding, identity_distance
from ..types import Box, FaceDetection, Image

Signature = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Observation:
    """The face detections of one frame, with one signature per detection."""

    frame_index: int
    time_s: float
    detections: Sequence[FaceDetection]
    signatures: Sequence[Signature | None] = ()
    embeddings: Sequence[Embedding | None] = ()  # face identity, where it can be trusted


@dataclass(frozen=True)
class TrackingParams:
    min_iou: float = 0.2  # box overlap that continues a track
    max_center_shift: float = 0.5  # or: centre moved less than this many face sizes ...
    max_speed: float = 3.0  # ... plus this many face sizes per second since last seen
    max_size_ratio: float = 2.0  # and the face size changed less than this factor
    max_gap_s: float = 2.0  # a track not seen for longer is only resumed ...
    reentry_shift: float = 3.0  # ... within this many face sizes of where it was
    min_similarity: float = 0.6  # appearance similarity (0..1) that re-identifies a person
    min_track_similarity: float = 0.3  # below this even an overlapping box starts a new match
    # Face identity: Euclidean distance of a face's dlib embedding from the mean of its
    # person's so far (bench/identity.py). On stage_performer the performer's 25 faces
    # lie within 0.39 of their mean and the audience's faces 0.56-0.74 from it; pairs of
    # one person's faces lie up to 0.61 apart (p95 0.54). dlib publishes 0.6 for pairs.
    same_distance: float = 0.5  # re-identifies a person across cuts and gaps
    differ_distance: float = 0.6  # beyond it, two faces are never joined by colour
    split_distance: float = 0.7  # a continuing box this far from its track: a new person


@dataclass
class _Person:
    person_id: int
    signature: Signature | None
    embedding: Embedding | None
    last_box: Box
    last_time: float
    shot: int
    last_frame: int = -1
    count: int = field(default=1)
    identities: int = 0  # embeddings averaged into ``embedding``


def appearance_signature(image: Image, face_box: Box) -> Signature:
    """HSV colour histogram (16 hue x 4 saturation x 4 value) of face + upper body.

    The region is the face box plus, below it, a box twice as wide and 1.5
    face heights tall (neck, shoulders, clothing), clipped to the frame.
    L1-normalised float32 vector of 256 bins.
    """
    fw, fh = face_box.width, face_box.height
    cx = face_box.center[0]
    below = Box(cx - fw, face_box.y2, cx + fw, face_box.y2 + 1.5 * fh)
    return _histogram(image, [face_box, below])


def body_signature(image: Image, body_box: Box) -> Signature:
    """:func:`appearance_signature`'s histogram for a person whose face was not found:
    the upper half of their body's box (head, shoulders, clothing)."""
    upper = Box(body_box.x1, body_box.y1, body_box.x2, body_box.y1 + body_box.height / 2)
    return _histogram(image, [upper])


def _histogram(image: Image, boxes: list[Box]) -> Signature:
    height, width = image.shape[:2]
    hist = np.zeros(256, dtype=np.float32)
    for r in (b.clip(width, height) for b in boxes):
        x1, y1, x2, y2 = int(r.x1), int(r.y1), math.ceil(r.x2), math.ceil(r.y2)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        hsv = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_RGB2HSV)
        h = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256])
        total = float(h.sum())
        if total > 0:
            hist += (h.ravel() / total).astype(np.float32)
    s = float(hist.sum())
    return hist / s if s > 0 else hist


def similarity(a: Signature, b: Signature) -> float:
    """Histogram similarity in 0..1 (1 - Bhattacharyya distance)."""
    d = cv2.compareHist(a.astype(np.float32), b.astype(np.float32), cv2.HISTCMP_BHATTACHARYYA)
    return float(max(0.0, 1.0 - d))


def _distance(a: Embedding | None, b: Embedding | None) -> float | None:
    return None if a is None or b is None else identity_distance(a, b)


def _continues(person: _Person, box: Box, time_s: float, params: TrackingParams) -> float:
    """How well ``box`` continues ``person``'s track in the same shot (0 = it does not)."""
    last = person.last_box
    size_a = math.sqrt(max(last.area, 1e-6))
    size_b = math.sqrt(max(box.area, 1e-6))
    if max(size_a, size_b) / min(size_a, size_b) > params.max_size_ratio:
        return 0.0
    (ax, ay), (bx, by) = last.center, box.center
    shift = math.hypot(ax - bx, ay - by) / max(size_a, size_b)
    gap = max(0.0, time_s - person.last_time)
    if gap > params.max_gap_s:
        # Re-entry in the same shot (the face was turned away or hidden):
        # close to where it was last seen; weaker than a live continuation.
        if shift <= params.reentry_shift:
            return 0.5 * (1.0 - shift / (2 * params.reentry_shift))
        return 0.0
    if last.iou(box) >= params.min_iou:
        return 1.0 + last.iou(box)
    allowed = params.max_center_shift + params.max_speed * gap
    if shift <= allowed:
        return 1.0 - shift / (2 * allowed)
    return 0.0


def track_people(
    observations: Sequence[Observation],
    cuts: Sequence[int] = (),
    params: TrackingParams | None = None,
) -> list[list[int]]:
    """Person id for every detection: result[i][j] for observations[i].detections[j].

    Ids start at 1 and are in order of first appearance. ``cuts`` are frame
    indices that start a new shot (no track continues across them).
    """
    p = params if params is not None else TrackingParams()
    cut_list = sorted(cuts)
    people: list[_Person] = []
    result: list[list[int]] = [[] for _ in observations]
    order = sorted(range(len(observations)), key=lambda i: observations[i].frame_index)
    for position in order:
        obs = observations[position]
        shot = sum(1 for c in cut_list if c <= obs.frame_index)
        result[position] = _track_frame(_Frame.of(obs, shot), people, p)
    return result


@dataclass(frozen=True)
class _Frame:
    """One observation in its shot, with a signature and an embedding (maybe None) for
    every detection."""

    obs: Observation
    shot: int
    sigs: list[Signature | None]
    embs: list[Embedding | None]

    @staticmethod
    def of(obs: Observation, shot: int) -> _Frame:
        n = len(obs.detections)
        sigs = list(obs.signatures) + [None] * (n - len(obs.signatures))
        embs = list(obs.embeddings) + [None] * (n - len(obs.embeddings))
        return _Frame(obs, shot, sigs, embs)


def _track_frame(frame: _Frame, people: list[_Person], p: TrackingParams) -> list[int]:
    """The ids of one frame's detections: tracks continued where the boxes allow, then
    the rest re-identified among the people not in this frame, else new people (added
    to ``people``); every person seen is updated."""
    assigned, used = _match(_links(frame, people, p))
    obs = frame.obs
    for j in range(len(obs.detections)):
        if j in assigned:
            continue
        k = _reidentify(frame, j, people, used, p)
        if k < 0:
            sig, emb = frame.sigs[j], frame.embs[j]
            people.append(
                _Person(len(people) + 1, sig, emb, obs.detections[j].box, obs.time_s, frame.shot)
            )
            k = len(people) - 1
        assigned[j] = k
        used.add(k)
    return [_update(people[assigned[j]], frame, j) for j in range(len(obs.detections))]


def _links(frame: _Frame, people: list[_Person], p: TrackingParams) -> list[tuple[float, int, int]]:
    """Candidate (score, detection, person) links within the shot."""
    links: list[tuple[float, int, int]] = []
    for j, det in enumerate(frame.obs.detections):
        for k, person in enumerate(people):
            if person.shot != frame.shot:
                continue
            score = _link_score(person, det.box, frame, j, p)
            if score is not None:
                links.append((score, j, k))
    return links


def _link_score(
    person: _Person, box: Box, frame: _Frame, j: int, p: TrackingParams
) -> float | None:
    """How well detection ``j`` continues ``person``'s track: None where the box does
    not, or the appearance or the identity says another person."""
    score = _continues(person, box, frame.obs.time_s, p)
    if score <= 0:
        return None
    sig = frame.sigs[j]
    if (
        sig is not None
        and person.signature is not None
        and similarity(sig, person.signature) < p.min_track_similarity
    ):
        return None
    distance = _distance(frame.embs[j], person.embedding)
    if distance is not None and distance > p.split_distance:
        return None  # another face where the box continues: a new person
    return score


def _match(links: list[tuple[float, int, int]]) -> tuple[dict[int, int], set[int]]:
    """The best links first, each detection and person used once: detection -> person,
    and the people used."""
    assigned: dict[int, int] = {}
    used: set[int] = set()
    for _score, j, k in sorted(links, reverse=True):
        if j in assigned or k in used:
            continue
        assigned[j] = k
        used.add(k)
    return assigned, used


def _reidentify(
    frame: _Frame, j: int, people: list[_Person], used: set[int], p: TrackingParams
) -> int:
    """The person (index into ``people``) detection ``j`` is by identity, else by
    appearance, among the people not in this frame; -1 for none."""
    time_s = frame.obs.time_s
    free = [
        k
        for k, person in enumerate(people)
        if k not in used
        # still tracked in this shot, and the box did not match:
        and not (person.shot == frame.shot and time_s - person.last_time <= p.max_gap_s)
    ]
    best_k = _same_identity(frame.embs[j], people, free, p)
    if best_k < 0:
        best_k = _same_looks(frame.sigs[j], frame.embs[j], people, free, p)
    return best_k


def _same_identity(
    emb: Embedding | None, people: list[_Person], free: list[int], p: TrackingParams
) -> int:
    """The free person whose identity lies nearest ``emb``, within ``same_distance``."""
    best_k, best_distance = -1, p.same_distance
    for k in free:
        distance = _distance(emb, people[k].embedding)
        if distance is not None and distance <= best_distance:
            best_k, best_distance = k, distance
    return best_k


def _same_looks(
    sig: Signature | None,
    emb: Embedding | None,
    people: list[_Person],
    free: list[int],
    p: TrackingParams,
) -> int:
    """The free person who looks most like ``sig``, at least ``min_similarity``, and
    whose identity does not differ from ``emb``."""
    best_k, best_sim = -1, p.min_similarity
    for k in free:
        person = people[k]
        if sig is None or person.signature is None:
            continue
        distance = _distance(emb, person.embedding)
        if distance is not None and distance > p.differ_distance:
            continue  # both faces known: their identities differ
        s = similarity(sig, person.signature)
        if s >= best_sim:
            best_k, best_sim = k, s
    return best_k


def _update(person: _Person, frame: _Frame, j: int) -> int:
    """Update ``person`` with detection ``j`` of ``frame`` (running looks, mean
    identity, last place and time); their id."""
    obs = frame.obs
    sig = frame.sigs[j]
    if sig is not None:
        person.signature = (
            sig.copy()
            if person.signature is None
            else (0.8 * person.signature + 0.2 * sig).astype(np.float32)
        )
    emb = frame.embs[j]
    if emb is not None:  # the mean of the person's embeddings so far
        n = person.identities
        person.embedding = (
            emb.astype(np.float32)
            if person.embedding is None
            else ((person.embedding * n + emb) / (n + 1)).astype(np.float32)
        )
        person.identities += 1
    person.last_box = obs.detections[j].box
    person.last_time = obs.time_s
    person.last_frame = obs.frame_index
    person.shot = frame.shot
    person.count += 1
    return person.person_id
