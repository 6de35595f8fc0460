"""A clip's frames and crop: the tracked part of a window, what the crop follows in each
frame (the head, or the body moved with the face), smoothed and cut at one size."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from ..analyze.box_path import as_rows, crop_size, edges, jitter, output_size, placed, smooth
from ..analyze.clip_plan import ClipWindow
from ..config import ClipsConfig, Config
from ..detect.pose import body_region
from ..output.crops import RATIOS, head_box
from ..resize import lanczos
from ..types import Box, Image
from .clip_tracking import Track, bridged, tracked_span

SIDE_MULTIPLE = 16  # what the video VAEs need of a frame's sides


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


def cut_clip(config: Config, track: Track, cuts: list[int], frame: tuple[int, int]) -> Cut | None:
    """The tracked part of a window and its crop in every frame; None when too short."""
    settings = config.clips
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
    boxes, size, smoothed = _crop_path(config, raw, frame)
    return Cut(
        window=window,
        indices=indices,
        boxes=boxes,
        size=size,
        bridged=filled,
        jitter=jitter(edges(as_rows(raw))),
        smoothed_jitter=smoothed,
    )


def too_small(config: Config, clip: Cut) -> bool:
    """A face clip of a face under --min-face-size (as face crops: too small to be a
    training picture of a face)."""
    if config.clips.crop != "face":
        return False
    sizes = [max(s.face.width, s.face.height) for s in clip.window.sightings if s.face]
    return bool(sizes) and statistics.median(sizes) < config.selection.min_face_size


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


def frame_pixels(image: Image, box: Box, size: tuple[int, int]) -> Image:
    x1, y1 = round(box.x1), round(box.y1)
    x2 = min(image.shape[1], max(x1 + 1, round(box.x2)))
    y2 = min(image.shape[0], max(y1 + 1, round(box.y2)))
    return lanczos(np.ascontiguousarray(image[y1:y2, x1:x2]), size)
