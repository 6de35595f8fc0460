"""Candidate frames: every keyframe plus one frame per interval, minus near-duplicates."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..types import Frame, Image
from .cuts import CutDetector, thumbnail
from .decode import VideoReader, upright_rgb

log = logging.getLogger(__name__)


def dhash(image: Image) -> int:
    """64-bit difference hash (signs of 9x8 grey gradients) of a grey or RGB image."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass
class SamplingStats:
    frames_decoded: int = 0
    sampled: int = 0
    duplicates: int = 0
    candidates: int = 0
    cuts: list[int] = field(default_factory=list)
    keyframe_times: list[float] = field(default_factory=list)  # where a later read can seek


@dataclass(frozen=True)
class SampledFrame:
    frame: Frame
    dhash: int
    reason: str  # "keyframe" or "interval"


def sample_candidates(
    reader: VideoReader,
    interval: float,
    dedup_distance: int,
    max_frames: int | None,
    stats: SamplingStats,
    start_after: int = -1,
) -> Iterator[SampledFrame]:
    """Stream candidate frames.

    A frame is sampled if it is a keyframe or it is the first frame whose time
    reaches the next multiple of ``interval`` seconds. A sampled frame whose
    dHash (of its 64x36 grey thumbnail) lies within ``dedup_distance`` bits of
    the previous candidate is a near-duplicate and is skipped. ``start_after``
    resumes: frames up to that index are decoded (to keep sampling and dedup
    decisions identical) but not yielded.

    ``max_frames`` spreads its candidates over the whole video: when the video's
    duration divided by ``max_frames`` is longer than ``interval``, that is the
    interval, and keyframes are not added (so the first seconds cannot use up the
    budget); the count stays a hard cap.
    """
    keyframes = True
    duration = reader.info.duration_s
    if max_frames is not None and duration > 0 and duration / max_frames > interval:
        interval, keyframes = duration / max_frames, False
    next_target: float | None = None
    last_hash: int | None = None
    cuts = CutDetector()
    for index, time_s, key, av_frame in reader.raw_frames():
        stats.frames_decoded += 1
        if key:
            stats.keyframe_times.append(time_s)
        thumb = thumbnail(av_frame)
        cuts.add(index, thumb)
        if next_target is None:
            next_target = (time_s // interval) * interval
        on_grid = time_s >= next_target - 1e-9
        if on_grid:
            while next_target <= time_s + 1e-9:
                next_target += interval
        if not ((key and keyframes) or on_grid):
            continue
        stats.sampled += 1
        frame_hash = dhash(thumb)
        if last_hash is not None and hamming(frame_hash, last_hash) <= dedup_distance:
            stats.duplicates += 1
            continue
        last_hash = frame_hash
        stats.candidates += 1
        if index > start_after:
            image = upright_rgb(av_frame, reader.info.rotation)
            frame = Frame(index=index, time_s=time_s, image=image, is_keyframe=key)
            reason = "keyframe" if key and keyframes and not on_grid else "interval"
            yield SampledFrame(frame, frame_hash, reason)
        if max_frames is not None and stats.candidates >= max_frames:
            log.info("reached --max-frames %d at frame %d (%.2f s)", max_frames, index, time_s)
            break
    stats.cuts = cuts.finish()
