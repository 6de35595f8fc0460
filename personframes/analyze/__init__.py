"""Analyzers: pure functions and small classes over detections; no pipeline state.

- :mod:`.head_pose`: yaw/pitch/roll and the 9 head directions (viewer's left/right)
- :mod:`.body_pose`: standing / sitting / squatting / lying / unknown
- :mod:`.shot_type`: extreme_closeup .. wide_shot
- :mod:`.quality`: sharpness, exposure, noise; video-relative sharpness
- :mod:`.tracking`: person ids over time, shot cuts
- :mod:`.framing`: how much of a head is inside the frame
"""

from __future__ import annotations

from .body_pose import (
    POSE_CLASSES,
    BodyPoseResult,
    PoseClass,
    analyze_body_pose,
    carry_poses,
    classify_angles,
)
from .framing import head_in_frame
from .head_pose import (
    HEAD_DIRECTIONS,
    HeadDirection,
    HeadPose,
    HeadPoseEstimator,
    are_neighbours,
    classify_direction,
)
from .quality import QualityMetrics, QualityScore, measure_quality, percentile_ranks, score_quality
from .shot_type import SHOT_TYPES, ShotType, ShotTypeResult, classify_shot_type
from .tracking import (
    Observation,
    TrackingParams,
    appearance_signature,
    body_signature,
    track_people,
)

__all__ = [
    "HEAD_DIRECTIONS",
    "POSE_CLASSES",
    "SHOT_TYPES",
    "BodyPoseResult",
    "HeadDirection",
    "HeadPose",
    "HeadPoseEstimator",
    "Observation",
    "PoseClass",
    "QualityMetrics",
    "QualityScore",
    "ShotType",
    "ShotTypeResult",
    "TrackingParams",
    "analyze_body_pose",
    "appearance_signature",
    "are_neighbours",
    "body_signature",
    "carry_poses",
    "classify_angles",
    "classify_direction",
    "classify_shot_type",
    "head_in_frame",
    "measure_quality",
    "percentile_ranks",
    "score_quality",
    "track_people",
]
