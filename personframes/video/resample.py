"""Frames at given times, by timestamp: the frame on screen at each time (the last whose
timestamp is not after it), never every n-th frame, so a variable frame rate gives
evenly timed frames."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av

from .decode import VideoReader


@dataclass(frozen=True)
class Shown:
    """What was on screen at ``times[target]``: frame ``index`` (decode order) shown
    from ``time_s``."""

    target: int
    index: int
    time_s: float
    frame: av.VideoFrame


def frames_at(reader: VideoReader, times: list[float]) -> Iterator[Shown]:
    """One ``Shown`` per time of ``times`` (ascending), in one pass from the start
    (times before the first frame get the first; after the last, the last)."""
    k = 0
    previous: tuple[int, float, av.VideoFrame] | None = None
    for index, time_s, _, frame in reader.raw_frames():
        while k < len(times) and times[k] < time_s:
            yield Shown(k, *(previous or (index, time_s, frame)))
            k += 1
        if k == len(times):
            return
        previous = (index, time_s, frame)
    while k < len(times) and previous is not None:
        yield Shown(k, *previous)
        k += 1
