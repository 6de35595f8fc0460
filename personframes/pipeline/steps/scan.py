"""Scan: decode the video, sample candidate frames, find faces in each."""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from ...detect import configured_face_detector
from ...state.records import INFO_KEY, FaceRecord, Record, ScanFrame, ScanInfo, VideoRecord
from ...types import FaceDetection, Image
from ...video.decode import VideoReader
from ...video.sampling import SampledFrame, SamplingStats, sample_candidates
from ..context import RunContext
from ..fallbacks import Fallback
from ..frame_analysis import Described, FramePoses, frame_analyzer
from .base import Step

TimedPoses = tuple[FramePoses, float]  # the poses and the seconds they took
# Frames described but waiting for their poses, at most: smooths the two threads'
# uneven per-frame costs; bounds memory (at 4K, ~25 MB a frame).
POSE_QUEUE = 3

InFlight = tuple[SampledFrame, list[FaceDetection], Described, Future[TimedPoses]]


def scan_results(ctx: RunContext) -> tuple[ScanInfo, list[ScanFrame]]:
    """The finished scan, read once: its summary record and the candidate frames in order."""
    info = ctx.store.load_one(ScanStep.NAME, INFO_KEY, ScanInfo)
    return info, ctx.store.load(ScanStep.NAME, ScanFrame)


class ScanStep(Step):
    NAME = "scan"
    VERSION = 6  # 2: thumbnail dHash; 3: people by body alone; 4: closeup by chin; 5: identity;
    # 6: head in frame
    TEMP = "candidates"
    # selection.min_face_sharpness: which faces get an identity embedding
    SECTIONS = ("sampling", "models", "pose", "head_angle", "selection.min_face_sharpness")

    def run(self, ctx: RunContext) -> None:
        cfg = ctx.config
        state = ctx.store.step(self.NAME)
        resume_after = state[2] if state else -1
        stats = SamplingStats()
        pending: list[tuple[str, int, Record]] = []
        last_index = resume_after
        total: int | None = None
        # Frames whose body poses are being found on the worker thread while this one
        # decodes, detects and describes the next: mediapipe pose is single-threaded,
        # so on two cores it runs beside the decoder, the detector and the head pose.
        in_flight: deque[InFlight] = deque()

        def flush(done: bool = False, extra: list[tuple[str, int, Record]] | None = None) -> None:
            ctx.store.commit_progress(self.NAME, last_index, pending + (extra or []), done)
            pending.clear()

        def settle(keep: int) -> None:
            """Record finished analyses, oldest first, until ``keep`` are left in flight."""
            nonlocal last_index
            while len(in_flight) > keep:
                candidate, faces, described, future = in_flight.popleft()
                poses, seconds = future.result()
                ctx.timings["pose"] += seconds
                frame = candidate.frame
                analysis = analyzer.combine(frame.image, faces, described, poses)
                for person in analysis.people:
                    if person.head.method == "keypoints":
                        ctx.fallbacks.warn(Fallback.HEAD_POSE)
                record = ScanFrame(
                    index=frame.index,
                    time_s=round(frame.time_s, 6),
                    keyframe=frame.is_keyframe,
                    dhash=f"{candidate.dhash:016x}",
                    reason=candidate.reason,
                    faces=[FaceRecord.of(f) for f in faces],
                    quality=analysis.quality,
                    people=analysis.people,
                )
                pending.append((f"{frame.index:09d}", frame.index, record))
                ctx.keep_intermediate(self.TEMP, f"frame_{frame.index:06d}", frame.image)
                last_index = frame.index
                ctx.progress(self.NAME, stats.frames_decoded, total)
                if len(pending) >= cfg.pipeline.commit_every:
                    flush()

        with (
            VideoReader(ctx.video_path) as reader,  # bad input fails before models load
            ThreadPoolExecutor(1, thread_name_prefix="personframes-pose") as worker,
        ):
            t0 = time.perf_counter()
            detector = configured_face_detector(ctx.models, cfg)
            analyzer = frame_analyzer(ctx.models, cfg)
            if analyzer.identity is None:  # counted per face by Fallback.FACE_IDENTITY
                ctx.fallbacks.warn(Fallback.FACE_IDENTITY, detail=analyzer.identity_problem)
            ctx.timings["load_models"] += time.perf_counter() - t0

            def find_poses(image: Image, faces: list[FaceDetection]) -> TimedPoses:
                started = time.perf_counter()
                return analyzer.poses(image, faces), time.perf_counter() - started

            total = reader.info.frame_count or None
            candidates = sample_candidates(
                reader,
                cfg.sampling.sample_interval,
                cfg.sampling.dedup_distance,
                cfg.sampling.max_frames,
                stats,
                start_after=resume_after,
            )
            while True:
                t0 = time.perf_counter()
                candidate = next(candidates, None)
                t1 = time.perf_counter()
                ctx.timings["decode"] += t1 - t0
                if candidate is None:
                    break
                if ctx.stop.is_set():
                    settle(0)
                    flush()
                    ctx.stop.check(f"while scanning {ctx.video_path.name}")
                image = candidate.frame.image
                faces = detector.detect(image)
                ctx.timings["detect"] += time.perf_counter() - t1
                poses = worker.submit(find_poses, image, faces)
                t2 = time.perf_counter()
                in_flight.append((candidate, faces, analyzer.describe(image, faces), poses))
                ctx.timings["analyze"] += time.perf_counter() - t2
                settle(POSE_QUEUE)
            settle(0)
            info = ScanInfo(
                video=VideoRecord.model_validate(reader.info.to_dict()),
                frames_decoded=stats.frames_decoded,
                sampled=stats.sampled,
                duplicates_removed=stats.duplicates,
                candidates=stats.candidates,
                shot_cuts=stats.cuts,
                keyframe_times=[round(t, 6) for t in stats.keyframe_times],
                frames_without_pts=reader.frames_without_pts,
                identity_unavailable=analyzer.identity_problem or None,
                device_fallbacks=(
                    [f"{detector.NAME}: {detector.device_fallback}"]
                    if detector.device_fallback
                    else []
                ),
            )
        flush(done=True, extra=[(INFO_KEY, -1, info)])
