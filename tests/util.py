"""Test helpers: where the shared data lives, small synthetic videos, running the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
VIDEOS = SHARED / "videos"
LABELS = SHARED / "labels"
IMAGES = SHARED / "images"


def state_db(out: Path) -> Path:
    """The state database of the one video processed into ``out``."""
    found = sorted(out.glob(".personframes/videos/*/state.sqlite"))
    assert len(found) == 1, f"{len(found)} video state databases in {out}"
    return found[0]


def labels(video: str) -> list[dict[str, str]]:
    with (LABELS / f"{video}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m personframes`` as a user would, in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "personframes", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def make_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    rate: int = 10,
    rotation: int | None = None,
    times: list[float] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames into ``path``. ``times`` (seconds) makes variable frame rate;
    ``options`` go to the encoder (e.g. ``{"g": "8"}``: a keyframe every 8 frames)."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if times is not None:
            stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if times is not None:
                frame.pts = round(times[i] * 1000)
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_square_frames(count: int, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """Frames that differ visibly from each other (a square moving across a gradient)."""
    frames = []
    blocks = np.random.default_rng(7).integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
    for i in range(count):
        image = base.copy()
        x = (i * 7) % (width - 16)
        image[8:24, x : x + 16] = 255
        frames.append(image)
    return frames


def files_in(folder: Path) -> list[str]:
    """Visible files the tool wrote (the hidden state folder excluded)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".personframes"))


def make_audio_only(path: Path) -> Path:
    """A short silent AAC file: a container with no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path
