"""Analysis, in one place: per frame during the scan (every person's pose, head angle,
shot type, quality: ``FrameAnalyzer``) and across the video's frames before selection
(who is who over time, quality relative to the video: ``analyze_video``).

Turns the analyzers' results into the typed records the state store keeps
(:mod:`.records`) and into the candidates selection chooses from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analyze import (
    HeadPoseEstimator,
    Observation,
    QualityMetrics,
    analyze_body_pose,
    appearance_signature,
    carry_poses,
    classify_shot_type,
    measure_quality,
    percentile_ranks,
    score_quality,
    track_people,
)
from ..config import Config
from ..detect.pose import BodyPose, PoseEstimator
from ..types import FaceDetection, Image
from .records import (
    HeadRecord,
    PersonRecord,
    PoseRecord,
    QualityRecord,
    ScanFrame,
    ShotRecord,
)
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


Described = tuple[QualityRecord, list[Looks]]  # ``describe``'s half of a frame's analysis


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

    def analyze(self, image: Image, faces: list[FaceDetection]) -> FrameAnalysis:
        return self.combine(image, faces, self.describe(image, faces), self.poses(image, faces))

    def poses(self, image: Image, faces: list[FaceDetection]) -> list[BodyPose | None]:
        """Each face's body pose (None where no body was found)."""
        return self.pose.detect_people(image, faces) if faces else []

    def describe(self, image: Image, faces: list[FaceDetection]) -> Described:
        """Everything but the body: frame quality, and per face head pose, quality, looks."""
        people = []
        for face in faces:
            head = self.head.estimate(image, face)
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
                    face_quality=_metrics(image, face.box),
                    signature=[
                        round(float(v), 5) for v in appearance_signature(image, face.box).ravel()
                    ],
                )
            )
        return _metrics(image), people

    def combine(
        self,
        image: Image,
        faces: list[FaceDetection],
        described: Described,
        poses: list[BodyPose | None],
    ) -> FrameAnalysis:
        """The frame's record: ``described`` with each person's body pose, shot and box."""
        height, width = image.shape[:2]
        visibility = self.config.pose.min_visibility
        people = []
        quality, looks = described
        for face, pose, person in zip(faces, poses, looks, strict=True):
            body = analyze_body_pose(pose, self.config.pose)
            shot = classify_shot_type(face.box, width, height, pose, visibility)
            body_box = pose.box(visibility) if pose is not None else None
            people.append(
                PersonRecord(
                    head=person.head,
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
                    face_quality=person.face_quality,
                    signature=person.signature,
                )
            )
        return FrameAnalysis(quality, people)


# -- across the video's frames ------------------------------------------------------------
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


@dataclass(frozen=True)
class PersonInFrame:
    """One face of one candidate frame, ready for selection: who it is, and its quality
    ranked within the video."""

    candidate: Candidate
    quality: dict[str, float]


@dataclass(frozen=True)
class VideoAnalysis:
    people: list[PersonInFrame]
    person_count: int  # distinct person ids
    unknown_head: int  # faces whose head direction is unknown
    poses_carried: int = 0  # waist-up sightings given the same person's pose nearby


def analyze_video(frames: list[ScanFrame], cuts: list[int]) -> VideoAnalysis:
    """The cross-frame half of the analysis: person ids (no track across a shot cut)
    and video-relative quality, for every face of every scanned frame."""
    ids = person_ids(frames, cuts)
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
        for j, (person, face) in enumerate(zip(f.people, f.faces, strict=True)):
            pose, source = next(poses)
            carried += source is not None
            box = face.detection().box
            candidate = Candidate(
                person_id=frame_ids[j],
                frame_index=f.index,
                time_s=f.time_s,
                pose=pose,
                head_direction=person.head.direction,
                shot_type=person.shot.type,
                quality=frame_scores[j]["overall"],
                face_size=max(box.width, box.height),
                dhash=int(f.dhash, 16),
                detection_index=j,
            )
            people.append(PersonInFrame(candidate, frame_scores[j]))
    unknown = sum(1 for p in people if p.candidate.head_direction == "unknown")
    return VideoAnalysis(people, len({i for row in ids for i in row}), unknown, carried)
