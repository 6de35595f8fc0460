"""Clips encoded with PyAV's libx264, written through a temporary name like every output.

CRF 16 (x264's scale: 0 lossless, 23 its default, about 18 "visually lossless"): a clip
feeds a video VAE that keeps far less than what CRF 16 loses, and it stays a fraction
of a lossless file. 4:2:0 (``yuv420p``) plays in every trainer's decoder (PyAV,
decord, torchvision) and in the review page's browser; the index is written first
(``faststart``) so the browser plays it before it has all of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from ..output.writer import atomic_path
from ..types import Image

CRF = 16
PRESET = "medium"


class ClipEncoder:
    """Frames in, one H.264 .mp4 out (a constant ``fps``)."""

    def __init__(self, container: av.container.OutputContainer, size: tuple[int, int], fps: float):
        self._container = container
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": PRESET}
        self._stream = stream
        self.frames = 0

    def add(self, image: Image) -> None:
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def finish(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)


@contextlib.contextmanager
def clip_file(path: Path, size: tuple[int, int], fps: float) -> Iterator[ClipEncoder]:
    """An encoder whose file appears at ``path`` whole when the block ends, and not at
    all when it raises."""
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            encoder = ClipEncoder(container, size, fps)
            yield encoder
            encoder.finish()
        finally:
            container.close()
