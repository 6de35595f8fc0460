"""Decoding chosen frames again: seeking to keyframes must give exactly the frames the
scan saw, and a frame that differs after a seek must send the rest to a full decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from personframes.video.decode import VideoReader
from personframes.video.revisit import FrameRef, Revisit
from personframes.video.sampling import SampledFrame, SamplingStats, sample_candidates

from .util import VIDEOS, make_video, moving_square_frames


def _scan(path: Path) -> tuple[list[SampledFrame], list[float]]:
    stats = SamplingStats()
    with VideoReader(path) as reader:
        found = list(sample_candidates(reader, 0.25, 2, None, stats))
    return found, stats.keyframe_times


def _revisit(path: Path, refs: list[FrameRef], keyframes: list[float]) -> tuple[Revisit, list]:
    with VideoReader(path) as reader:
        revisit = Revisit(reader, refs, keyframes)
        return revisit, list(revisit)


def _refs(candidates: list[SampledFrame]) -> list[FrameRef]:
    return [FrameRef(c.frame.index, c.frame.time_s, c.dhash) for c in candidates]


def _assert_same(frames: list, candidates: list[SampledFrame]) -> None:
    assert [f.index for f in frames] == [c.frame.index for c in candidates]
    for frame, candidate in zip(frames, candidates, strict=True):
        assert frame.time_s == pytest.approx(candidate.frame.time_s, abs=1e-6)
        assert np.array_equal(frame.image, candidate.frame.image), f"frame {frame.index}"


def test_seeking_gives_the_scanned_frames_of_the_stage_video() -> None:
    path = VIDEOS / "stage_performer.mp4"  # a keyframe about every 2 s
    candidates, keyframes = _scan(path)
    chosen = candidates[::6]
    revisit, frames = _revisit(path, _refs(chosen), keyframes)
    assert revisit.mismatch is None and revisit.seeks >= 3
    _assert_same(frames, chosen)


@pytest.mark.parametrize("kind", ["rotated", "variable_frame_rate"])
def test_seeking_in_rotated_and_variable_rate_videos(tmp_path: Path, kind: str) -> None:
    images = moving_square_frames(60)
    if kind == "rotated":
        path = make_video(tmp_path / "r.mp4", images, rotation=90, options={"g": "8"})
    else:
        times = [round(0.1 * i + (0.05 if i % 3 else 0.0), 2) for i in range(60)]
        path = make_video(tmp_path / "v.mkv", images, times=times, options={"g": "8"})
    candidates, keyframes = _scan(path)
    assert len(keyframes) >= 6
    chosen = candidates[1::5]
    revisit, frames = _revisit(path, _refs(chosen), keyframes)
    assert revisit.mismatch is None and revisit.seeks >= 3
    _assert_same(frames, chosen)


def test_a_frame_that_differs_after_seeking_falls_back_to_decoding_from_the_start() -> None:
    path = VIDEOS / "stage_performer.mp4"
    candidates, keyframes = _scan(path)
    chosen = candidates[::6]
    refs = _refs(chosen)
    refs[2] = FrameRef(refs[2].index, refs[2].time_s, refs[2].dhash ^ 0xFF)  # not what a seek finds
    revisit, frames = _revisit(path, refs, keyframes)
    assert revisit.mismatch is not None and f"frame {refs[2].index}" in revisit.mismatch
    _assert_same(frames, chosen)  # the full decode still gives every wanted frame


def test_no_keyframe_times_means_no_seeking() -> None:
    path = VIDEOS / "stage_performer.mp4"
    candidates, _ = _scan(path)
    revisit, frames = _revisit(path, _refs(candidates[::6]), [])
    assert revisit.seeks == 0
    _assert_same(frames, candidates[::6])
