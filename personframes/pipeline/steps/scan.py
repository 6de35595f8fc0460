"""Scan: decode the video, sample candidate frames, find faces in each."""

from __future__ import annotations

import time
from typing import Any

from ...video.decode import VideoReader
from ...video.sampling import SamplingStats, sample_candidates
from ..context import RunContext
from ..records import face_to_dict
from .base import Step

INFO_KEY = "~info"
HEAD_POSE_FALLBACK = "face mesh not confident (e.g. a profile), angles from detector keypoints"


def scan_results(ctx: RunContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The finished scan, read once: its summary record and the candidate frames in order."""
    info: dict[str, Any] | None = None
    frames: list[dict[str, Any]] = []
    for record in ctx.store.records(ctx.video_key, ScanStep.NAME):
        if "index" in record:
            frames.append(record)
        else:
            info = record
    if info is None:
        raise KeyError(INFO_KEY)
    return info, frames


class ScanStep(Step):
    NAME = "scan"
    SECTIONS = ("sampling", "models", "pose", "head_angle")

    def run(self, ctx: RunContext) -> None:
        cfg = ctx.config
        state = ctx.store.step(ctx.video_key, self.NAME)
        resume_after = state[2] if state else -1
        stats = SamplingStats()
        pending: list[tuple[str, int, Any]] = []
        last_index = resume_after

        def flush(done: bool = False, extra: list[tuple[str, int, Any]] | None = None) -> None:
            ctx.store.commit_progress(
                ctx.video_key, self.NAME, last_index, pending + (extra or []), done
            )
            pending.clear()

        with VideoReader(ctx.video_path) as reader:  # bad input fails before models load
            t0 = time.perf_counter()
            detector = ctx.sessions.face_detector(
                cfg.models.face_detector,
                cfg.models.confidence,
                cfg.models.detector_max_side,
                cfg.models.device,
            )
            analyzer = ctx.sessions.frame_analyzer(cfg)
            ctx.timings["load_models"] += time.perf_counter() - t0
            total = reader.info.frame_count or None
            for candidate in sample_candidates(
                reader,
                cfg.sampling.sample_interval,
                cfg.sampling.dedup_distance,
                cfg.sampling.max_frames,
                stats,
                start_after=resume_after,
            ):
                if ctx.stop.is_set():
                    flush()
                    ctx.stop.check(f"while scanning {ctx.video_path.name}")
                frame = candidate.frame
                t0 = time.perf_counter()
                faces = detector.detect(frame.image)
                t1 = time.perf_counter()
                analysis = analyzer.analyze(frame.image, faces)
                ctx.timings["detect"] += t1 - t0
                ctx.timings["analyze"] += time.perf_counter() - t1
                for person in analysis["people"]:
                    if person["head"]["method"] == "keypoints":
                        ctx.fallbacks.warn("head pose", HEAD_POSE_FALLBACK)
                pending.append(
                    (
                        f"{frame.index:09d}",
                        frame.index,
                        {
                            "index": frame.index,
                            "time_s": round(frame.time_s, 6),
                            "keyframe": frame.is_keyframe,
                            "dhash": f"{candidate.dhash:016x}",
                            "reason": candidate.reason,
                            "faces": [face_to_dict(f) for f in faces],
                            **analysis,
                        },
                    )
                )
                last_index = frame.index
                ctx.progress(self.NAME, stats.frames_decoded, total)
                if len(pending) >= cfg.pipeline.commit_every:
                    flush()
            info = {
                "video": reader.info.to_dict(),
                "frames_decoded": stats.frames_decoded,
                "sampled": stats.sampled,
                "duplicates_removed": stats.duplicates,
                "candidates": stats.candidates,
                "shot_cuts": stats.cuts,
                "frames_without_pts": reader.frames_without_pts,
            }
        flush(done=True, extra=[(INFO_KEY, -1, info)])
