"""Analysis, in one place: per frame during the scan (every person's pose, head angle,
shot type, quality: ``FrameAnalyzer``) and across the video's frames before selection
(who is who over time, quality relative to the video: ``analyze_video``).

Turns the analyzers' results into the typed records the state store keeps
(:mod:`.records`) and into the candidates selection chooses from.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analyze import (
    HeadPoseEstimator,
    Observation,
    QualityMetrics,
    analyze_body_pose,
    appearance_signature,
    body_signature,
    carry_poses,
    classify_shot_type,
    measure_quality,
    percentile_ranks,
    score_quality,
    track_people,
)
from ..config import Config
from ..detect.face_identity import Embedding, FaceEmbedder, IdentityUnavailable, identity_eligible
from ..detect.pose import SAME_BODY_IOU, BodyPose, PoseEstimator
from ..models.session import ModelSession
from ..output.naming import NO_FACE
from ..state.records import (
    HeadRecord,
    PersonRecord,
    PoseRecord,
    QualityRecord,
    ScanFrame,
    ShotRecord,
)
from ..types import Box, FaceDetection, Image
from .selection import Candidate


def _metrics(image: Image, region: Any = None) -> QualityRecord:
    m = measure_quality(image, region)
    return QualityRecord(
        sharpness=round(float(m.sharpness), 4),
        brightness=round(float(m.brightness), 4),
        contrast=round(float(m.contrast), 4),
        noise=round(float(m.noise), 4),
    )


@dataclass(frozen=True)
class Looks:
    """One face's analysis that needs no body pose: head angles, quality, appearance."""

    head: HeadRecord
    face_quality: QualityRecord
    signature: list[float]
    identity: list[float] | None = None


Described = tuple[QualityRecord, list[Looks]]  # ``describe``'s half of a frame's analysis


@dataclass(frozen=True)
class FramePoses:
    """``poses``' half of a frame's analysis: one body pose per face (None where none
    was found), and the body of a person whose face was not found, if any."""

    per_face: list[BodyPose | None]
    faceless: BodyPose | None = None


@dataclass(frozen=True)
class FrameAnalysis:
    quality: QualityRecord
    people: list[PersonRecord]


def _angle(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


class FrameAnalyzer:
    """Holds the pose and head-pose models and turns one candidate frame into its record.

    The work comes in two halves so the scan can run them on two threads:
    ``poses`` (BlazePose on LiteRT, one thread) and ``describe`` (head pose, quality,
    appearance); ``combine`` joins them. ``analyze`` does all three in turn.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pose = PoseEstimator()
        self.head = HeadPoseEstimator(config.head_angle)
        self.identity: FaceEmbedder | None = None
        self.identity_problem = ""  # why there is no identity model (warned per video)
        try:
            self.identity = FaceEmbedder()
        except IdentityUnavailable as exc:  # counted per face: Fallback.FACE_IDENTITY
            self.identity_problem = str(exc)

    def analyze(self, image: Image, faces: list[FaceDetection]) -> FrameAnalysis:
        return self.combine(image, faces, self.describe(image, faces), self.poses(image, faces))

    def poses(self, image: Image, faces: list[FaceDetection]) -> FramePoses:
        """Each face's body pose (None where no body was found), and the frame's most
        prominent person when their face was not found (a back, a turned head)."""
        per_face = self.pose.detect_people(image, faces) if faces else []
        visibility = self.config.pose.min_visibility
        return FramePoses(per_face, self.pose.detect_faceless(image, faces, per_face, visibility))

    def describe(self, image: Image, faces: list[FaceDetection]) -> Described:
        """Everything but the body: frame quality, and per face head pose, quality, looks."""
        people = []
        for face in faces:
            head = self.head.estimate(image, face)
            quality = _metrics(image, face.box)
            identity = None
            # Only faces the tracker trusts get an embedding (turned toward the camera,
            # with detail): the dark, defocused ones would cost as much for nothing.
            if (
                self.identity is not None
                and identity_eligible(head.yaw)
                and quality.sharpness >= self.config.selection.min_face_sharpness
            ):
                identity = [round(float(v), 4) for v in self.identity.embed(image, face.box)]
            people.append(
                Looks(
                    head=HeadRecord(
                        direction=head.direction,
                        yaw=_angle(head.yaw),
                        pitch=_angle(head.pitch),
                        roll=_angle(head.roll),
                        method=head.method,
                        reason=head.reason,
                    ),
                    face_quality=quality,
                    signature=[
                        round(float(v), 5) for v in appearance_signature(image, face.box).ravel()
                    ],
                    identity=identity,
                )
            )
        return _metrics(image), people

    def combine(
        self,
        image: Image,
        faces: list[FaceDetection],
        described: Described,
        poses: FramePoses,
    ) -> FrameAnalysis:
        """The frame's record: ``described`` with each person's body pose, shot and box;
        a person found only by their body comes last, with no face."""
        size = image.shape[1], image.shape[0]
        quality, looks = described
        people = [
            self._person(
                size,
                pose,
                face.box,
                person.head,
                person.face_quality,
                person.signature,
                person.identity,
            )
            for face, pose, person in zip(faces, poses.per_face, looks, strict=True)
        ]
        body = poses.faceless
        box = None if body is None else body.box(self.config.pose.min_visibility)
        if body is not None and box is not None:
            head = HeadRecord(
                direction=NO_FACE,
                yaw=None,
                pitch=None,
                roll=None,
                method="none",
                reason="face not found: seen from behind, turned away or hidden",
            )
            signature = [round(float(v), 5) for v in body_signature(image, box).ravel()]
            people.append(self._person(size, body, None, head, _metrics(image, box), signature))
        return FrameAnalysis(quality, people)

    def _person(
        self,
        size: tuple[int, int],
        pose: BodyPose | None,
        face_box: Box | None,
        head: HeadRecord,
        region_quality: QualityRecord,
        signature: list[float],
        identity: list[float] | None = None,
    ) -> PersonRecord:
        width, height = size
        visibility = self.config.pose.min_visibility
        body = analyze_body_pose(pose, self.config.pose)
        shot = classify_shot_type(face_box, width, height, pose, visibility)
        body_box = pose.box(visibility) if pose is not None else None
        return PersonRecord(
            head=head,
            pose=PoseRecord(class_=body.pose, reason=body.reason, method=body.method),
            shot=ShotRecord(type=shot.shot_type, reason=shot.reason),
            body_box=None
            if body_box is None
            else (
                round(float(body_box.x1), 1),
                round(float(body_box.y1), 1),
                round(float(body_box.x2), 1),
                round(float(body_box.y2), 1),
            ),
            face_quality=region_quality,
            signature=signature,
            identity=identity,
        )


# -- across the video's frames ------------------------------------------------------------
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


def _faceless_ids(
    frames: list[ScanFrame], ids: list[list[int]], cuts: list[int]
) -> list[list[int]]:
    """Ids for the people past each frame's faces (see :func:`person_ids`)."""

    def shot(index: int) -> int:
        return sum(1 for c in cuts if c <= index)

    seen: list[tuple[int, float, int, Box]] = [  # (shot, time, id, body box) of face-people
        (shot(f.index), f.time_s, person_id, Box(*p.body_box))
        for f, row in zip(frames, ids, strict=True)
        for p, person_id in zip(f.people[: len(f.faces)], row, strict=True)
        if p.body_box is not None
    ]
    faceless = [(i, f) for i, f in enumerate(frames) if len(f.people) > len(f.faces)]
    tracks = track_people(
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
    votes: dict[int, Counter[int]] = defaultdict(Counter)  # body track -> face ids it met
    beside: dict[int, set[int]] = defaultdict(set)  # body track -> face ids in its frames
    for (i, f), track_row in zip(faceless, tracks, strict=True):
        s = shot(f.index)
        for box, track in zip(_body_boxes(f), track_row, strict=True):
            beside[track].update(ids[i])
            near = [
                (abs(t - f.time_s), person_id)
                for s2, t, person_id, other in seen
                if s2 == s and abs(t - f.time_s) <= LINK_S and box.iou(other) >= SAME_BODY_IOU
            ]
            if near:
                votes[track][min(near)[1]] += 1
    next_id = max((i for row in ids for i in row), default=0) + 1
    named: dict[int, int] = {}
    for track in sorted({t for row in tracks for t in row}):
        # Never someone seen beside this body in one of its frames: two people.
        allowed = [(n, pid) for pid, n in votes[track].items() if pid not in beside[track]]
        if allowed:
            named[track] = max(allowed)[1]
        else:
            named[track], next_id = next_id, next_id + 1
    out: list[list[int]] = [[] for _ in frames]
    for (i, _), track_row in zip(faceless, tracks, strict=True):
        out[i] = [named[t] for t in track_row]
    return out


def _bodies(frame: ScanFrame) -> list[PersonRecord]:
    """The frame's people found by their body alone."""
    return frame.people[len(frame.faces) :]


def _body_boxes(frame: ScanFrame) -> list[Box]:
    """The body boxes of the frame's people found by their body alone (ScanFrame makes
    sure each has one)."""
    return [Box(*p.body_box) for p in _bodies(frame) if p.body_box is not None]


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


def frame_analyzer(session: ModelSession, config: Config) -> FrameAnalyzer:
    """The pose and head-pose models for the calling thread, made once per session,
    thread and settings (the analyzer runs its body-pose half on one more thread of its
    own choosing)."""

    def make() -> FrameAnalyzer:
        analyzer = FrameAnalyzer(config)
        # One-time native set-up of every model, now rather than on the first frame.
        analyzer.analyze(np.zeros((64, 64, 3), np.uint8), [])
        return analyzer

    settings = config.section_hash("pose", "head_angle", "selection.min_face_sharpness")
    return session.cached(("frame_analyzer", settings, threading.get_ident()), make)
