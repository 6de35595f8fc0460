"""Decoding and sampling on real and synthetic videos (containers, rotation, VFR, dedup)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from personframes.errors import InputError
from personframes.video.decode import VideoReader
from personframes.video.sampling import SamplingStats, dhash, hamming, sample_candidates

from .util import VIDEOS, make_audio_only, make_video, moving_square_frames


def _candidates(path: Path, interval: float = 0.25, dedup: int = 2, cap: int | None = None):
    stats = SamplingStats()
    with VideoReader(path) as reader:
        found = list(sample_candidates(reader, interval, dedup, cap, stats))
    return found, stats


def test_shared_video_timestamps_and_labels_grid() -> None:
    with VideoReader(VIDEOS / "stage_performer.mp4") as reader:
        frames = list(reader.frames())
    assert len(frames) == 275
    index, time_s, _key, _ = frames[5]
    assert index == 5 and time_s == pytest.approx(1.018852, abs=1e-6)  # as the labels say
    assert frames[0][2] is True  # first frame is a keyframe
    assert all(b[1] > a[1] for a, b in itertools.pairwise(frames))


def test_sampling_keeps_keyframes_and_interval_frames() -> None:
    found, stats = _candidates(VIDEOS / "sitting_window.mp4", interval=0.5, dedup=-1)
    assert stats.frames_decoded == 546
    indices = [c.frame.index for c in found]
    # sitting_window's pts lie on the 0.5 s grid: every 15th frame is sampled
    assert set(range(0, 546, 15)) <= set(indices)
    assert all(c.frame.image.shape == (1280, 676, 3) for c in found[:3])


def test_dedup_drops_repeated_frames(tmp_path: Path) -> None:
    distinct = moving_square_frames(6)
    frames = [f for f in distinct for _ in range(3)]  # each image shown 3 times
    path = make_video(tmp_path / "rep.mp4", frames, rate=4, codec="mpeg4")
    found, stats = _candidates(path, interval=0.25, dedup=2)
    assert stats.sampled == 18 and stats.duplicates >= 10
    hashes = [c.dhash for c in found]
    assert all(hamming(a, b) > 2 for a, b in itertools.pairwise(hashes))


def test_max_frames_caps_candidates() -> None:
    found, stats = _candidates(VIDEOS / "stage_performer.mp4", cap=4)
    assert len(found) == 4 and stats.frames_decoded < 275


@pytest.mark.parametrize(
    ("rotation", "shape"), [(90, (96, 64, 3)), (-90, (96, 64, 3)), (180, (64, 96, 3))]
)
def test_rotation_metadata_is_applied(
    tmp_path: Path, rotation: int, shape: tuple[int, int, int]
) -> None:
    image = np.zeros((64, 96, 3), np.uint8)
    image[:16, :16] = 255  # white marker top-left in the stored picture
    path = make_video(tmp_path / "rot.mp4", [image] * 3, rotation=rotation)
    with VideoReader(path) as reader:
        assert (reader.info.height, reader.info.width, 3) == shape
        frame = next(reader.read({0}))
    assert frame.image.shape == shape
    expected = np.rot90(image, k=rotation // 90)  # counter-clockwise display rotation
    corner = np.unravel_index(np.argmax(expected[..., 0]), expected.shape[:2])
    assert frame.image[corner][0] > 200


def test_variable_frame_rate_timestamps(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.2, 0.9, 1.0, 1.7, 2.1]  # irregular gaps (encoder grid 0.1 s)
    path = make_video(tmp_path / "vfr.mkv", moving_square_frames(len(times)), times=times)
    with VideoReader(path) as reader:
        seen = [t for _, t, _, _ in reader.frames()]
    assert seen == pytest.approx(times, abs=1e-3)
    found, _ = _candidates(path, interval=0.5, dedup=-1)
    # first frame at or after each 0.5 s step (plus keyframes)
    assert {0.0, 0.9, 1.0, 1.7, 2.1} <= {round(c.frame.time_s, 2) for c in found}


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        (".mp4", "libx264"),
        (".mov", "libx264"),
        (".mkv", "libx264"),
        (".avi", "mpeg4"),
        (".webm", "libvpx"),
    ],
)
def test_containers(tmp_path: Path, suffix: str, codec: str) -> None:
    path = make_video(tmp_path / f"clip{suffix}", moving_square_frames(10), codec=codec)
    with VideoReader(path) as reader:
        assert len(list(reader.frames())) == 10


def test_audio_only_file_is_rejected(tmp_path: Path) -> None:
    path = make_audio_only(tmp_path / "sound.m4a")
    with pytest.raises(InputError, match="no video stream"):
        VideoReader(path)


def test_dhash_separates_different_images() -> None:
    a, _b = moving_square_frames(2)
    assert dhash(a) == dhash(a.copy())
    assert hamming(dhash(a), dhash(np.ascontiguousarray(a[::-1]))) > 8
