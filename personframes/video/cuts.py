"""Shot cuts from tiny grey thumbnails of every decoded frame.

A cut is where the mean absolute difference of consecutive thumbnails jumps
above ``threshold`` and is at least twice both neighbouring differences (so a
fast pan is not a cut). The same thumbnails feed the frames' difference hash.
"""

from __future__ import annotations

from collections.abc import Iterable

import av
import numpy as np
import numpy.typing as npt

THUMB_SIZE = (64, 36)

Thumbnail = npt.NDArray[np.uint8]


def thumbnail(frame: av.VideoFrame) -> Thumbnail:
    """The frame shrunk to 64x36 grey by the decoder's scaler (area averaging: at 4K
    about 1 ms, against 3.8 ms for bicubic and more for an RGB copy first)."""
    small = frame.reformat(
        width=THUMB_SIZE[0], height=THUMB_SIZE[1], format="gray8", interpolation="AREA"
    )
    return np.asarray(small.to_ndarray(), dtype=np.uint8)


class CutDetector:
    """Finds cuts in a stream of thumbnails; needs one frame of look-ahead."""

    def __init__(self, threshold: float = 18.0) -> None:
        self.threshold = threshold
        self._prev: npt.NDArray[np.float32] | None = None
        self._diffs: list[tuple[int, float]] = []  # (frame index, diff to previous)
        self.cuts: list[int] = []

    def add(self, index: int, thumb: Thumbnail) -> None:
        grey = thumb.astype(np.float32)
        if self._prev is not None:
            self._diffs.append((index, float(np.abs(grey - self._prev).mean())))
            if len(self._diffs) >= 2:
                self._judge(len(self._diffs) - 2)
            if len(self._diffs) > 3:  # only neighbours matter: keep memory bounded
                del self._diffs[0]
        self._prev = grey

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


def find_shot_cuts(thumbnails: Iterable[tuple[int, Thumbnail]]) -> list[int]:
    """Frame indices that start a new shot, from (frame index, thumbnail) in order."""
    detector = CutDetector()
    for index, thumb in thumbnails:
        detector.add(index, thumb)
    return detector.finish()
