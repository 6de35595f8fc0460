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
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ...analyze.box_path import as_rows, crop_size, edges, jitter, output_size, placed, smooth
from ...analyze.clip_plan import ClipWindow, Sighting, plan_clips
from ...config import ClipsConfig, Config
from ...detect import configured_face_detector
from ...detect.pose import body_region
from ...output.captions import caption_text
from ...output.crops import RATIOS, head_box
from ...output.naming import clip_name, person_folder
from ...output.writer import write_text
from ...resize import lanczos
from ...state.records import INFO_KEY, ClipItem, ClipQuality, ClipsInfo, ScanFrame
from ...types import Box, Image
from ...video.decode import VideoReader, upright_rgb
from ...video.encode import ClipEncoder, clip_file
from ...video.resample import frames_at
from ..clip_tracking import Track, bridged, find_face, follow, tracked_span
from ..context import RunContext
from ..video_analysis import analyze_video
from .base import Step
from .scan import scan_results
from .select import people_kept

log = logging.getLogger(__name__)

SIDE_MULTIPLE = 16  # what the video VAEs need of a frame's sides
Writing = contextlib.AbstractContextManager[ClipEncoder]


@dataclass(frozen=True)
class Cut:
    """One clip, tracked: its window, the frames it keeps, and the crop of each."""

    window: ClipWindow
    indices: list[int]  # decoded frame shown at each clip frame
    boxes: list[Box]  # the crop in each frame
    size: tuple[int, int]  # the clip's frame size
    bridged: int
    jitter: float
    smoothed_jitter: float


def sightings(frames: list[ScanFrame], cuts: list[int], config: Config) -> list[Sighting]:
    video = analyze_video(frames, cuts, config.selection.min_face_sharpness)
    by_index = {f.index: f for f in frames}
    out = []
    for p in video.people:
        c = p.candidate
        frame = by_index[c.frame_index]
        person = frame.people[c.detection_index]
        face = frame.faces[c.detection_index] if c.detection_index < len(frame.faces) else None
        out.append(
            Sighting(
                person_id=c.person_id,
                frame_index=c.frame_index,
                time_s=c.time_s,
                shot=bisect.bisect_right(cuts, c.frame_index),
                face=None if face is None else face.detection().box,
                body=None if person.body_box is None else Box(*person.body_box),
                quality=float(p.quality["overall"]),
                sharpness=float(p.quality["sharpness_laplacian_var"]),
                pose=c.pose,
                head_direction=c.head_direction,
                shot_type=c.shot_type,
            )
        )
    return out


def _majority(values: list[str]) -> str:
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], -values.index(v)))


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
        settings = ctx.config.clips
        if not settings.enabled:
            ctx.store.commit_progress(self.NAME, -1, [], done=True)
            return
        info, frames = scan_results(ctx)
        cuts = sorted(info.shot_cuts)
        found = sightings(frames, cuts, ctx.config)
        kept = people_kept(ctx, analyze_video(frames, cuts))
        shape = settings.format()
        windows, soft = plan_clips(
            [s for s in found if s.person_id in kept],
            [(f.time_s, bisect.bisect_right(cuts, f.index)) for f in frames],
            fps=shape.fps,
            most=shape.frames,
            fewest=settings.fewest_frames(),
            per_person=settings.per_person,
            min_sharpness=ctx.config.selection.min_face_sharpness,
            exclusive=settings.crop == "frame",
        )
        no_face = sum(1 for w in windows if all(s.face is None for s in w.sightings))
        started = time.perf_counter()
        tracks, frame = self._track(ctx, [w for w in windows if any(s.face for s in w.sightings)])
        ctx.timings["clip_track"] += time.perf_counter() - started
        cut = [c for t in tracks if (c := self._cut(ctx, t, cuts, frame)) is not None]
        lost = len(windows) - no_face - len(cut)
        clips = [c for c in cut if not _too_small(ctx.config, c)]
        items = self._name(ctx, clips)
        done = ctx.store.record_keys(self.NAME)
        started = time.perf_counter()
        self._encode(ctx, [(c, i) for c, i in zip(clips, items, strict=True) if i.file not in done])
        ctx.timings["clip_encode"] += time.perf_counter() - started
        summary = ClipsInfo(
            planned=len(windows),
            written=len(items),
            too_soft=soft,
            lost=lost,
            no_face=no_face,
            too_small=len(cut) - len(clips),
        )
        if lost or no_face:
            log.info(
                "%s: %d planned clips not made (%d lost the person's face, %d showed no face)",
                ctx.video_path.name,
                lost + no_face,
                lost,
                no_face,
            )
        ctx.store.commit_progress(self.NAME, -1, [(INFO_KEY, -1, summary)], done=True)

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

    @staticmethod
    def _cut(ctx: RunContext, track: Track, cuts: list[int], frame: tuple[int, int]) -> Cut | None:
        """The tracked part of a window and its crop in every frame; None when too short."""
        settings = ctx.config.clips
        span = tracked_span(track, cuts, settings.fewest_frames())
        if span is None:
            return None
        first, count = span
        window = track.window
        window = ClipWindow(
            window.person_id,
            window.shot,
            window.start_s + first / window.fps,
            count,
            window.fps,
            window.sightings,
        )
        faces = track.faces[first : first + count]
        indices = track.indices[first : first + count]
        raw, filled = bridged(
            [
                _subject(
                    settings,
                    None if f is None else f.box,
                    None if f is None else head_box(f),
                    window,
                    frame,
                )
                for f in faces
            ]
        )
        boxes, size, smoothed = _crop_path(ctx.config, raw, frame)
        return Cut(
            window=window,
            indices=indices,
            boxes=boxes,
            size=size,
            bridged=filled,
            jitter=jitter(edges(as_rows(raw))),
            smoothed_jitter=smoothed,
        )

    def _name(self, ctx: RunContext, clips: list[Cut]) -> list[ClipItem]:
        out = ctx.config.output
        numbers: Counter[int] = Counter()
        ranks = {
            id(c): rank
            for person in {c.window.person_id for c in clips}
            for rank, c in enumerate(
                sorted(
                    (c for c in clips if c.window.person_id == person),
                    key=lambda c: (-c.window.quality, c.window.start_s),
                ),
                start=1,
            )
        }
        items = []
        for seq, clip in enumerate(clips):
            w = clip.window
            numbers[w.person_id] += 1
            name = clip_name(ctx.stem, w.person_id, numbers[w.person_id])
            inside = [s for s in w.sightings if w.start_s - 1e-6 <= s.time_s <= w.end_s + 1e-6]
            seen = inside or list(w.sightings)
            items.append(
                ClipItem(
                    file=name,
                    folder=person_folder(w.person_id) if out.group_by_person else None,
                    caption=name.rsplit(".", 1)[0] + ".txt",
                    seq=seq,
                    person_id=w.person_id,
                    shot=w.shot,
                    start_s=round(w.start_s, 6),
                    end_s=round(w.end_s, 6),
                    frames=w.frames,
                    fps=w.fps,
                    size=clip.size,
                    first_frame_index=clip.indices[0],
                    last_frame_index=clip.indices[-1],
                    crop=ctx.config.clips.crop,
                    crop_boxes_xywh=[_xywh(box) for box in clip.boxes],
                    frames_bridged=clip.bridged,
                    jitter_px=round(clip.jitter, 3),
                    smoothed_jitter_px=round(clip.smoothed_jitter, 3),
                    pose=_majority([s.pose for s in seen]),
                    head_direction=_majority([s.head_direction for s in seen]),
                    shot_type=_majority([s.shot_type for s in seen]),
                    quality=ClipQuality(
                        overall=round(statistics.fmean(s.quality for s in seen), 4),
                        sharpness_laplacian_var=round(
                            statistics.median(s.sharpness for s in seen), 2
                        ),
                    ),
                    rank=ranks[id(clip)],
                )
            )
        return items

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
                    encoder.add(_frame(image, clip.boxes[encoder.frames], clip.size))
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


def _too_small(config: Config, clip: Cut) -> bool:
    """A face clip of a face under --min-face-size (as face crops: too small to be a
    training picture of a face)."""
    if config.clips.crop != "face":
        return False
    sizes = [max(s.face.width, s.face.height) for s in clip.window.sightings if s.face]
    return bool(sizes) and statistics.median(sizes) < config.selection.min_face_size


def _xywh(box: Box) -> tuple[int, int, int, int]:
    x, y, w, h = box.as_xywh()
    return round(x), round(y), round(w), round(h)


def _subject(
    settings: ClipsConfig,
    face: Box | None,
    head: Box | None,
    window: ClipWindow,
    frame: tuple[int, int],
) -> Box | None:
    """What the crop follows in one frame: the head (face crops, whole frames), or the
    body: the body box of the scan's nearest sighting, moved as the face moved since."""
    if face is None:
        return None
    if settings.crop != "person":
        return head
    with_body = [s for s in window.sightings if s.body is not None and s.face is not None]
    if not with_body:
        return body_region(face, *frame)
    cx, cy = face.center
    near = min(with_body, key=lambda s: _distance(s.face, (cx, cy)))
    assert near.body is not None and near.face is not None
    dx, dy = cx - near.face.center[0], cy - near.face.center[1]
    b = near.body
    return Box(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy)


def _distance(box: Box | None, point: tuple[float, float]) -> float:
    if box is None:
        return math.inf
    return math.dist(box.center, point)


def _crop_path(
    config: Config, raw: list[Box], frame: tuple[int, int]
) -> tuple[list[Box], tuple[int, int], float]:
    """The crop in every frame, the clip's frame size, and the crop's jitter."""
    settings, out = config.clips, config.output
    shape = settings.format()
    multiple = math.lcm(SIDE_MULTIPLE, out.bucket) if out.bucket else SIDE_MULTIPLE
    if settings.crop == "frame":
        size, crop = output_size((float(frame[0]), float(frame[1])), shape.longest_side, multiple)
        centre = np.array([[frame[0] / 2, frame[1] / 2]] * len(raw))
        return placed(centre, crop, frame), size, 0.0
    rows = smooth(as_rows(raw), settings.smoothing * shape.fps / 4)
    padding = out.face_crop_padding if settings.crop == "face" else out.crop_padding
    wanted = crop_size(rows, padding, RATIOS[out.crop_ratio], frame)
    size, crop = output_size(wanted, shape.longest_side, multiple)
    boxes = placed(rows[:, :2], crop, frame)
    return boxes, size, jitter(edges(as_rows(boxes)))


def _frame(image: Image, box: Box, size: tuple[int, int]) -> Image:
    x1, y1 = round(box.x1), round(box.y1)
    x2 = min(image.shape[1], max(x1 + 1, round(box.x2)))
    y2 = min(image.shape[0], max(y1 + 1, round(box.y2)))
    return lanczos(np.ascontiguousarray(image[y1:y2, x1:x2]), size)
