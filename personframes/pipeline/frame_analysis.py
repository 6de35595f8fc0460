"""Analysis of one candidate frame during the scan: every person's body pose, head angle,
shot type, quality and looks (``FrameAnalyzer``, made per thread by ``frame_analyzer``).

Turns the analyzers' results into the typed records the state store keeps
(:mod:`personframes.state.records`); the cross-frame half is :mod:`.video_analysis`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analyze import (
    HeadPoseEstimator,
    analyze_body_pose,
    appearance_signature,
    body_signature,
    classify_shot_type,
    head_in_frame,
    measure_quality,
)
from ..config import Config
from ..detect.face_identity import FaceEmbedder, IdentityUnavailable, identity_eligible
from ..detect.pose import BodyPose, PoseEstimator
from ..models.session import ModelSession
from ..output.naming import NO_FACE
from ..state.records import (
    HeadRecord,
    PersonRecord,
    PoseRecord,
    QualityRecord,
    ShotRecord,
)
from ..types import Box, FaceDetection, Image


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
    head_in_frame: float | None = None  # the share of the head box inside the frame


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
                    head_in_frame=head_in_frame(face, image.shape[1], image.shape[0]),
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
                person.head_in_frame,
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
        in_frame: float | None = None,
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
            head_in_frame=in_frame,
        )


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
