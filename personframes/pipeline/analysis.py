"""Per-frame analysis during the scan: every person's pose, head angle, shot type, quality.

Turns the analyzers' results into the typed records the state store keeps
(:mod:`.records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..analyze import (
    HeadPoseEstimator,
    analyze_body_pose,
    appearance_signature,
    classify_shot_type,
    measure_quality,
)
from ..config import Config
from ..detect.pose import BodyPose, PoseEstimator
from ..types import FaceDetection, Image
from .records import HeadRecord, PersonRecord, PoseRecord, QualityRecord, ShotRecord


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
                    pose=PoseRecord(class_=body.pose, reason=body.reason),
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
