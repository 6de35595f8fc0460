"""Per-frame analysis during the scan: every person's pose, head angle, shot type, quality.

Turns the analyzers' typed results into the JSON records the state store keeps.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..analyze import (
    HeadPoseEstimator,
    analyze_body_pose,
    appearance_signature,
    classify_shot_type,
    measure_quality,
)
from ..config import Config
from ..detect.pose import PoseEstimator
from ..native import silence_native_stderr
from ..types import FaceDetection, Image


def _metrics(image: Image, region: Any = None) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in asdict(measure_quality(image, region)).items()}


def _angle(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


class FrameAnalyzer:
    """Holds the pose and head-pose models; ``analyze`` is called once per candidate frame."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pose = PoseEstimator()
        self.head = HeadPoseEstimator(config.head_angle)

    def analyze(self, image: Image, faces: list[FaceDetection]) -> dict[str, Any]:
        height, width = image.shape[:2]
        record: dict[str, Any] = {"quality": _metrics(image), "people": []}
        if not faces:
            return record
        with silence_native_stderr():  # mediapipe logs set-up notes on its first real person
            poses = self.pose.detect_people(image, faces)
        for face, pose in zip(faces, poses, strict=True):
            head = self.head.estimate(image, face)
            body = analyze_body_pose(pose, self.config.pose)
            shot = classify_shot_type(
                face.box, width, height, pose, self.config.pose.min_visibility
            )
            body_box = pose.box(self.config.pose.min_visibility) if pose is not None else None
            record["people"].append(
                {
                    "head": {
                        "direction": head.direction,
                        "yaw": _angle(head.yaw),
                        "pitch": _angle(head.pitch),
                        "roll": _angle(head.roll),
                        "method": head.method,
                        "reason": head.reason,
                    },
                    "pose": {"class": body.pose, "reason": body.reason},
                    "shot": {"type": shot.shot_type, "reason": shot.reason},
                    "body_box": None
                    if body_box is None
                    else [
                        round(v, 1) for v in (body_box.x1, body_box.y1, body_box.x2, body_box.y2)
                    ],
                    "face_quality": _metrics(image, face.box),
                    "signature": [
                        round(float(v), 5) for v in appearance_signature(image, face.box).ravel()
                    ],
                }
            )
        return record
