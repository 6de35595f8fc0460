"""Decode chosen frames again after the scan, seeking past the parts between them.

The scan keeps no frames; writing needs a few of them back. Decoding the
whole video again costs as much as the scan's decoding, so when a keyframe
lies between the decoder's position and the next wanted frame, the reader
seeks to the last such keyframe and finds the frame by its timestamp. A frame
reached that way must have the dHash the scan recorded; if one does not (an
open GOP can decode differently after a seek, a file can repeat timestamps),
the remaining frames are decoded again from the start, which always gives the
scan's frames.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import av

from ..types import Frame
from .cuts import thumbnail
from .decode import VideoReader, upright_rgb
from .sampling import dhash

TIME_TOLERANCE_S = 1e-4  # the scan stores times rounded to microseconds


@dataclass(frozen=True)
class FrameRef:
    """A frame the scan saw: its index, time and thumbnail dHash."""

    index: int
    time_s: float
    dhash: int


class Revisit:
    """Yields the frames of ``refs`` in index order, seeking only to ``keyframe_times``
    (the scan's; none, e.g. for frames without timestamps, decodes everything from the
    start). ``seeks`` counts the seeks; ``mismatch`` says why seeking was abandoned."""

    def __init__(
        self, reader: VideoReader, refs: Iterable[FrameRef], keyframe_times: Sequence[float]
    ) -> None:
        self.reader = reader
        self.refs = sorted(refs, key=lambda r: r.index)
        self.keyframe_times = sorted(keyframe_times)
        self.mismatch: str | None = None
        self.seeks = 0

    def _keyframe_between(self, after: float, upto: float) -> bool:
        i = bisect.bisect_right(self.keyframe_times, after + TIME_TOLERANCE_S)
        return i < len(self.keyframe_times) and self.keyframe_times[i] <= upto + TIME_TOLERANCE_S

    def __iter__(self) -> Iterator[Frame]:
        pending = deque(self.refs)
        if self.keyframe_times:
            yield from self._by_seeking(pending)
        if pending:
            if self.mismatch is not None:
                self.reader.rewind()
            wanted = {ref.index for ref in pending}
            yield from self.reader.read(wanted)

    def _by_seeking(self, pending: deque[FrameRef]) -> Iterator[Frame]:
        rotation = self.reader.info.rotation
        decoded: Iterator[tuple[float, bool, av.VideoFrame]] | None = None
        position = float("-inf")
        while pending:
            ref = pending[0]
            if decoded is None or self._keyframe_between(position, ref.time_s):
                decoded = self.reader.frames_from(ref.time_s)
                self.seeks += 1
            for time_s, key, frame in decoded:
                position = time_s
                if time_s < ref.time_s - TIME_TOLERANCE_S:
                    continue
                if time_s > ref.time_s + TIME_TOLERANCE_S:
                    self._give_up(ref, f"no frame at {ref.time_s:.3f} s after seeking")
                    return
                if dhash(thumbnail(frame)) != ref.dhash:
                    self._give_up(ref, "the frame reached by seeking differs from the scan's")
                    return
                image = upright_rgb(frame, rotation)
                yield Frame(index=ref.index, time_s=time_s, image=image, is_keyframe=key)
                pending.popleft()
                break
            else:
                self._give_up(ref, f"the video ended before {ref.time_s:.3f} s after seeking")
                return

    def _give_up(self, ref: FrameRef, reason: str) -> None:
        self.mismatch = f"frame {ref.index}: {reason}; decoding from the start instead"
