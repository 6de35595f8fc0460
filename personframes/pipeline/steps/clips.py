"""Clips: short clips of each kept person for video-model LoRAs (``extract --clips``).

Planned from the scan (``analyze/clip_plan.py``: one shot, the person in every sampled
frame, 4n+1 frames, the best N per person), then two passes over the video: the person's
face found in every clip frame (``pipeline/clip_tracking.py``), and the frames cut along
a smoothed box (``analyze/box_path.py``) and encoded (``video/encode.py``). Faces are
never restored in clips: a model run frame by frame makes each frame's face a little
different, and the clip flickers.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import time
from functools import partial
from pathlib import Path

from ...analyze.clip_plan import ClipWindow, plan_clips
from ...detect import configured_face_detector
from ...output.captions import caption_text
from ...output.writer import write_text
from ...state.records import INFO_KEY, ClipItem, ClipsInfo, ScanFrame
from ...types import Image
from ...video.decode import VideoReader, upright_rgb
from ...video.encode import ClipEncoder, clip_file
from ...video.resample import frames_at
from ..clip_framing import Cut, cut_clip, frame_pixels, too_small
from ..clip_records import clip_items, sightings
from ..clip_tracking import Track, find_face, follow
from ..context import RunContext
from ..video_analysis import analyze_video
from .base import Step
from .scan import scan_results
from .select import people_kept

log = logging.getLogger(__name__)


class ClipStep(Step):
    NAME = "clips"
    SECTIONS = ("clips",)

    def _written(self, ctx: RunContext) -> list[ClipItem]:
        return ctx.store.load(self.NAME, ClipItem)

    @staticmethod
    def _files(ctx: RunContext, item: ClipItem) -> list[Path]:
        return [ctx.output_file(name, item.folder) for name in (item.file, item.caption)]

    def still_valid(self, ctx: RunContext) -> bool:
        return all(p.is_file() for item in self._written(ctx) for p in self._files(ctx, item))

    def discard(self, ctx: RunContext) -> None:
        for item in self._written(ctx):
            for path in self._files(ctx, item):
                with contextlib.suppress(OSError):
                    path.unlink()

    def run(self, ctx: RunContext) -> None:
        if not ctx.config.clips.enabled:
            ctx.store.commit_progress(self.NAME, -1, [], done=True)
            return
        info, frames = scan_results(ctx)
        cuts = sorted(info.shot_cuts)
        windows, soft = self._plan(ctx, frames, cuts)
        faced = [w for w in windows if any(s.face for s in w.sightings)]
        started = time.perf_counter()
        tracks, frame = self._track(ctx, faced)
        ctx.timings["clip_track"] += time.perf_counter() - started
        tracked = [c for t in tracks if (c := cut_clip(ctx.config, t, cuts, frame)) is not None]
        clips = [c for c in tracked if not too_small(ctx.config, c)]
        items = clip_items(ctx.config, ctx.stem, clips)
        done = ctx.store.record_keys(self.NAME)
        started = time.perf_counter()
        self._encode(ctx, [(c, i) for c, i in zip(clips, items, strict=True) if i.file not in done])
        ctx.timings["clip_encode"] += time.perf_counter() - started
        summary = ClipsInfo(
            planned=len(windows),
            written=len(items),
            too_soft=soft,
            lost=len(faced) - len(tracked),
            no_face=len(windows) - len(faced),
            too_small=len(tracked) - len(clips),
        )
        if summary.lost or summary.no_face:
            log.info(
                "%s: %d planned clips not made (%d lost the person's face, %d showed no face)",
                ctx.video_path.name,
                summary.lost + summary.no_face,
                summary.lost,
                summary.no_face,
            )
        ctx.store.commit_progress(self.NAME, -1, [(INFO_KEY, -1, summary)], done=True)

    @staticmethod
    def _plan(
        ctx: RunContext, frames: list[ScanFrame], cuts: list[int]
    ) -> tuple[list[ClipWindow], int]:
        """The windows of the kept people (and how many were too soft)."""
        settings = ctx.config.clips
        # the select step's analysis, so the person ids are the images' ids
        video = analyze_video(frames, cuts, ctx.config.selection.min_face_sharpness)
        kept = people_kept(ctx, video)
        shape = settings.format()
        return plan_clips(
            [s for s in sightings(video, frames, cuts) if s.person_id in kept],
            [(f.time_s, bisect.bisect_right(cuts, f.index)) for f in frames],
            fps=shape.fps,
            most=shape.frames,
            fewest=settings.fewest_frames(),
            per_person=settings.per_person,
            min_sharpness=ctx.config.selection.min_face_sharpness,
            exclusive=settings.crop == "frame",
        )

    @staticmethod
    def _track(ctx: RunContext, windows: list[ClipWindow]) -> tuple[list[Track], tuple[int, int]]:
        """Pass one: each window's face in each of its frames; and the frame's size."""
        tracks = [Track(w) for w in windows]
        wanted = sorted((t, n) for n, w in enumerate(windows) for t in w.times)
        image: Image | None = None
        shown_index = -1
        with VideoReader(ctx.video_path) as reader:
            frame = (reader.info.width, reader.info.height)
            if not wanted:
                return tracks, frame
            detector = configured_face_detector(ctx.models, ctx.config)
            rotation = reader.info.rotation
            for shown in frames_at(reader, [t for t, _ in wanted]):
                if ctx.stop.is_set():
                    ctx.stop.check(f"while following people in {ctx.video_path.name}")
                if shown.index != shown_index or image is None:
                    image, shown_index = upright_rgb(shown.frame, rotation), shown.index
                time_s, n = wanted[shown.target]
                track = tracks[n]
                track.indices.append(shown.index)
                follow(track, partial(find_face, detector, image), time_s)
        return tracks, frame

    def _encode(self, ctx: RunContext, todo: list[tuple[Cut, ClipItem]]) -> None:
        """Pass two: each clip's frames cut, resized and encoded, then its caption; each
        clip committed as it is finished (a resumed run starts at the next)."""
        wanted = sorted((t, n) for n, (c, _) in enumerate(todo) for t in c.window.times)
        open_files: dict[
            int, tuple[contextlib.AbstractContextManager[ClipEncoder], ClipEncoder]
        ] = {}
        image: Image | None = None
        shown_index = -1
        try:
            with VideoReader(ctx.video_path) as reader:
                rotation = reader.info.rotation
                for shown in frames_at(reader, [t for t, _ in wanted]):
                    if ctx.stop.is_set():
                        ctx.stop.check(f"while writing clips of {ctx.video_path.name}")
                    n = wanted[shown.target][1]
                    clip, item = todo[n]
                    if n not in open_files:
                        if item.folder is not None:
                            ctx.output_person_folder(item.folder, make=True)
                        path = ctx.output_file(item.file, item.folder)
                        manager = clip_file(path, clip.size, clip.window.fps)
                        open_files[n] = (manager, manager.__enter__())
                    if shown.index != shown_index or image is None:
                        image, shown_index = upright_rgb(shown.frame, rotation), shown.index
                    encoder = open_files[n][1]
                    encoder.add(frame_pixels(image, clip.boxes[encoder.frames], clip.size))
                    if encoder.frames == clip.window.frames:
                        open_files.pop(n)[0].__exit__(None, None, None)
                        self._caption(ctx, item)
                        ctx.store.commit_progress(
                            self.NAME, item.seq, [(item.file, item.seq, item)]
                        )
                        ctx.progress(self.NAME, item.seq + 1, len(todo))
        except BaseException as exc:
            for opened, _ in open_files.values():  # their temporary files are removed
                with contextlib.suppress(Exception):
                    opened.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if open_files:  # the video ended before a clip's last frame: it said it was longer
            raise AssertionError("a clip's frames were not all decoded")

    @staticmethod
    def _caption(ctx: RunContext, item: ClipItem) -> None:
        trigger = ctx.config.output.trigger
        write_text(
            ctx.output_file(item.caption, item.folder),
            caption_text(
                [trigger] if trigger else [], item.pose, item.head_direction, item.shot_type
            ),
        )
