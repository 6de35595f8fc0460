"""Every fallback the pipeline can take: one enum whose members both warn and count.

A step that falls back calls ``ctx.fallbacks.warn(Fallback.X, ...)`` (logged once per
video and reason, at WARNING); the manifest's and run summary's counts come from the
stored records through the member's counter, so they survive a resume and no fallback
can be warned about but not counted (``COUNTERS`` has an entry for every member).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from enum import Enum

from ..detect.face_identity import identity_eligible
from ..state.records import ScanFrame, ScanInfo, WriteItem


class Fallback(Enum):
    # In the order the summary lists them.
    FACE_RESTORATION = "face restoration"
    BODY_CROP = "body crop"
    HEAD_POSE = "head pose"
    BODY_POSE_2D = "body pose"
    FACE_IDENTITY = "face identity"
    FRAME_SEEKING = "frame seeking"
    VIDEO_TIMESTAMPS = "video timestamps"
    DEVICE = "device"
    PRECISION = "precision"


REASONS = {
    Fallback.BODY_CROP: "no body landmarks, region estimated from face",
    Fallback.HEAD_POSE: "face mesh not confident (e.g. a profile), angles from detector keypoints",
    Fallback.BODY_POSE_2D: "no world landmarks, classified from 2D joint angles",
    Fallback.FACE_IDENTITY: ("no face identity model (dlib), people linked by box and colour only"),
    Fallback.FRAME_SEEKING: (
        "seeking did not reach the scanned frame; frames decoded from the start"
    ),
    Fallback.VIDEO_TIMESTAMPS: "frames without pts, timed from the frame rate",
}
"""The reason each member is counted under (face restoration, device and precision: their own)."""

GROUPS = {
    Fallback.FACE_RESTORATION: "restoration",
    Fallback.BODY_CROP: "analysis",
    Fallback.HEAD_POSE: "analysis",
    Fallback.BODY_POSE_2D: "analysis",
    Fallback.FACE_IDENTITY: "analysis",
    Fallback.FRAME_SEEKING: "decoding",
    Fallback.VIDEO_TIMESTAMPS: "decoding",
    Fallback.DEVICE: "device",
    Fallback.PRECISION: "device",
}
"""What each member is about, as the run summary's fallback columns count them."""


def group_of(key: str) -> str:
    """The group of a counted fallback (``"what: reason"``, as ``count_fallbacks`` keys)."""
    what = key.split(":", 1)[0]
    for member, group in GROUPS.items():
        if what == member.value:
            return group
    raise ValueError(f"not a counted fallback: {key!r}")


Counted = Iterable[tuple[str, int]]  # (reason, occurrences)
CounterFn = Callable[[ScanInfo, list[ScanFrame], list[WriteItem]], Counted]


def _restoration(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    for r in written:
        if r.restoration is not None and r.restoration.fell_back:
            yield str(r.restoration.reason), 1


def _body(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    return ((REASONS[Fallback.BODY_CROP], 1) for r in written if r.body_box_estimated)


def _head(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    reason = REASONS[Fallback.HEAD_POSE]
    return ((reason, 1) for f in frames for p in f.people if p.head.method == "keypoints")


def _pose_2d(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    reason = REASONS[Fallback.BODY_POSE_2D]
    return ((reason, 1) for f in frames for p in f.people if p.pose.method == "2d")


def _identity(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    if info.identity_unavailable:  # every face turned toward the camera went without
        reason = REASONS[Fallback.FACE_IDENTITY]
        for f in frames:
            for p in f.people[: len(f.faces)]:
                if identity_eligible(p.head.yaw):
                    yield reason, 1


def _seeking(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    return ((REASONS[Fallback.FRAME_SEEKING], 1) for r in written if r.reread_from_start)


def _timestamps(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    if info.frames_without_pts:
        yield REASONS[Fallback.VIDEO_TIMESTAMPS], info.frames_without_pts


def _device(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    for reason in info.device_fallbacks:  # the face detector's, once per scan
        yield reason, 1
    for r in written:  # each restored crop that ran on the CPU instead of a GPU
        if r.restoration is not None and r.restoration.device_fallback:
            yield f"{r.restoration.model}: {r.restoration.device_fallback}", 1


def _precision(info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]) -> Counted:
    for r in written:  # each restored crop computed in fp32 although bf16 was asked for
        if r.restoration is not None and r.restoration.precision_fallback:
            yield f"{r.restoration.model}: {r.restoration.precision_fallback}", 1


COUNTERS: dict[Fallback, CounterFn] = {
    Fallback.FACE_RESTORATION: _restoration,
    Fallback.BODY_CROP: _body,
    Fallback.HEAD_POSE: _head,
    Fallback.BODY_POSE_2D: _pose_2d,
    Fallback.FACE_IDENTITY: _identity,
    Fallback.FRAME_SEEKING: _seeking,
    Fallback.VIDEO_TIMESTAMPS: _timestamps,
    Fallback.DEVICE: _device,
    Fallback.PRECISION: _precision,
}


def count_fallbacks(
    info: ScanInfo, frames: list[ScanFrame], written: list[WriteItem]
) -> dict[str, int]:
    """``"what: reason" -> occurrences`` over the stored records, members in order."""
    counts: Counter[str] = Counter()
    for member in Fallback:
        for reason, occurrences in COUNTERS[member](info, frames, written):
            counts[f"{member.value}: {reason}"] += occurrences
    return dict(counts)
