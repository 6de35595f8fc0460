"""The scan step: poses found on a worker thread while the next frame is decoded and
described must give the same records, in frame order, as one thread doing it all."""

from __future__ import annotations

from pathlib import Path

import pytest

from personframes.config import load_config
from personframes.detect import configured_face_detector, create_face_detector
from personframes.models.session import ModelSession
from personframes.pipeline.context import RunContext, StopFlag
from personframes.pipeline.frame_analysis import frame_analyzer
from personframes.pipeline.steps.scan import ScanStep, scan_results
from personframes.state.records import FaceRecord
from personframes.state.video import VideoState
from personframes.video.decode import VideoReader
from personframes.video.sampling import SamplingStats, sample_candidates

from .util import VIDEOS


def test_threaded_scan_matches_one_thread_analysis(tmp_path: Path) -> None:
    video = VIDEOS / "stage_performer.mp4"  # several people a frame, three cuts
    config = load_config(None, {"sampling": {"max_frames": 24}}, environ={})
    sessions = ModelSession()
    store = VideoState(tmp_path, "0" * 32)
    try:
        ctx = RunContext(video, "0" * 32, video.stem, tmp_path, config, store, sessions, StopFlag())
        ScanStep().run(ctx)
        _, records = scan_results(ctx)
    finally:
        store.close()

    analyzer = frame_analyzer(sessions, config)
    detector = configured_face_detector(sessions, config)
    with VideoReader(video) as reader:
        candidates = list(sample_candidates(reader, 0.25, 2, 24, SamplingStats()))
    assert [r.index for r in records] == [c.frame.index for c in candidates]
    assert sum(len(r.people) for r in records) >= 24
    for record, candidate in zip(records, candidates, strict=True):
        faces = detector.detect(candidate.frame.image)  # unrounded, as the scan had them
        assert record.faces == [FaceRecord.of(f) for f in faces]
        expected = analyzer.analyze(candidate.frame.image, faces)
        assert record.quality == expected.quality
        assert record.people == expected.people, f"frame {record.index}"


def test_models_print_nothing_on_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    """LiteRT's start-up notes (XNNPACK) are kept off stderr, at load and at first use."""
    analyzer = frame_analyzer(ModelSession(), load_config(None, {}, environ={}))
    with VideoReader(VIDEOS / "sitting_window.mp4") as reader:
        frame = next(iter(sample_candidates(reader, 0.25, 2, 1, SamplingStats()))).frame
    detector = create_face_detector("centerface")
    assert any(
        pose is not None
        for pose in analyzer.poses(frame.image, detector.detect(frame.image)).per_face
    )
    assert capfd.readouterr().err == ""
