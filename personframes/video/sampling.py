"""Candidate frames: every keyframe plus one frame per interval, minus near-duplicates."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from ..types import Frame, Image
from .decode import VideoReader, rotate_upright

THUMB_SIZE = (64, 36)

log = logging.getLogger(__name__)


def dhash(image: Image) -> int:
    """64-bit difference hash of an RGB image (9x8 grayscale gradient signs)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
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


class CutDetector:
    """Shot cuts from every decoded frame: the mean absolute difference of small gray
    thumbnails jumps above ``threshold`` and is at least twice both neighbouring
    differences (so a fast pan is not a cut). Needs one frame of look-ahead.
    """

    def __init__(self, threshold: float = 18.0) -> None:
        self.threshold = threshold
        self._prev: np.ndarray | None = None
        self._diffs: list[tuple[int, float]] = []  # (frame index, diff to previous)
        self.cuts: list[int] = []

    def add(self, index: int, frame: av.VideoFrame) -> None:
        thumb = frame.reformat(width=THUMB_SIZE[0], height=THUMB_SIZE[1], format="gray8")
        gray = thumb.to_ndarray().astype(np.float32)
        if self._prev is not None:
            self._diffs.append((index, float(np.abs(gray - self._prev).mean())))
            if len(self._diffs) >= 2:
                self._judge(len(self._diffs) - 2)
            if len(self._diffs) > 3:  # only neighbours matter: keep memory bounded
                del self._diffs[0]
        self._prev = gray

    def finish(self) -> list[int]:
        if self._diffs:
            self._judge(len(self._diffs) - 1)
        return self.cuts

    def _judge(self, i: int) -> None:
        index, diff = self._diffs[i]
        before = self._diffs[i - 1][1] if i > 0 else 0.0
        after = self._diffs[i + 1][1] if i + 1 < len(self._diffs) else 0.0
        if diff > self.threshold and diff >= 2 * max(before, after):
            self.cuts.append(index)


@dataclass(frozen=True)
class Candidate:
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
) -> Iterator[Candidate]:
    """Stream candidate frames.

    A frame is sampled if it is a keyframe or it is the first frame whose time
    reaches the next multiple of ``interval`` seconds. A sampled frame whose
    dHash lies within ``dedup_distance`` bits of the previous candidate is a
    near-duplicate and is skipped. ``start_after`` resumes: frames up to that
    index are decoded (to keep sampling and dedup decisions identical) but
    not yielded.
    """
    next_target: float | None = None
    last_hash: int | None = None
    cuts = CutDetector()
    for index, time_s, key, av_frame in reader.raw_frames():
        stats.frames_decoded += 1
        cuts.add(index, av_frame)
        if next_target is None:
            next_target = (time_s // interval) * interval
        on_grid = time_s >= next_target - 1e-9
        if on_grid:
            while next_target <= time_s + 1e-9:
                next_target += interval
        if not (key or on_grid):
            continue
        stats.sampled += 1
        rgb = np.asarray(av_frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        image = rotate_upright(rgb, reader.info.rotation)
        frame_hash = dhash(image)
        if last_hash is not None and hamming(frame_hash, last_hash) <= dedup_distance:
            stats.duplicates += 1
            continue
        last_hash = frame_hash
        stats.candidates += 1
        if index > start_after:
            frame = Frame(index=index, time_s=time_s, image=image, is_keyframe=key)
            yield Candidate(frame, frame_hash, "keyframe" if key and not on_grid else "interval")
        if max_frames is not None and stats.candidates >= max_frames:
            log.info("reached --max-frames %d at frame %d (%.2f s)", max_frames, index, time_s)
            break
    stats.cuts = cuts.finish()
