"""A clip's person found in every one of its frames: the face detector run around where
the person was a frame before (or where the scan saw them), the face of the best
overlap taken. A gap of a few frames is bridged; a longer one, or a shot cut, ends the
clip there (the longest tracked part is kept, if long enough).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from ..analyze.clip_plan import ClipWindow, four_n_plus_one
from ..detect.base import FaceDetector
from ..types import Box, FaceDetection, Image

MAX_GAP = 2  # frames without the face that are bridged (an eighth of a second at 16 fps)
ROI_FACES = 3.0  # the detector looks at a square this many face sizes wide
MIN_ROI = 96  # px
MIN_IOU = 0.25


@dataclass
class Track:
    """One window's faces frame by frame (None: not found there) and the decoded frames
    (decode order index) they were found in."""

    window: ClipWindow
    faces: list[FaceDetection | None] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)


def expected_face(window: ClipWindow, time_s: float, last: FaceDetection | None) -> Box | None:
    """Where the person's face should be at ``time_s``: the face of the frame before
    when it was found, else the scan's nearest sighting with a face."""
    if last is not None:
        return last.box
    faced = [s for s in window.sightings if s.face is not None]
    if not faced:
        return None
    nearest = min(faced, key=lambda s: abs(s.time_s - time_s))
    return nearest.face


def _roi(box: Box, width: int, height: int) -> Box:
    side = max(MIN_ROI, ROI_FACES * max(box.width, box.height))
    cx, cy = box.center
    return Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2).clip(width, height)


def _shifted(face: FaceDetection, dx: float, dy: float) -> FaceDetection:
    b = face.box
    return FaceDetection(
        box=Box(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy),
        score=face.score,
        keypoints={k: (x + dx, y + dy) for k, (x, y) in face.keypoints.items()},
        detector=face.detector,
    )


def find_face(detector: FaceDetector, image: Image, expected: Box) -> FaceDetection | None:
    """The face the detector finds near ``expected`` that overlaps it most (at least
    MIN_IOU), in the image's pixels; None when there is none."""
    height, width = image.shape[:2]
    roi = _roi(expected, width, height)
    x1, y1, x2, y2 = (round(v) for v in (roi.x1, roi.y1, roi.x2, roi.y2))
    if x2 - x1 < 8 or y2 - y1 < 8:
        return None
    found = [_shifted(f, x1, y1) for f in detector.detect(image[y1:y2, x1:x2])]
    scored = [(f.box.iou(expected), f) for f in found]
    best = max(scored, key=lambda pair: pair[0], default=None)
    return best[1] if best is not None and best[0] >= MIN_IOU else None


def follow(track: Track, detect: Callable[[Box], FaceDetection | None], time_s: float) -> None:
    """Find the track's face in its next frame (``detect`` looks near a box)."""
    recent = [f for f in track.faces[-(MAX_GAP + 1) :] if f is not None]
    expected = expected_face(track.window, time_s, recent[-1] if recent else None)
    track.faces.append(None if expected is None else detect(expected))


def tracked_span(track: Track, cuts: list[int], fewest: int) -> tuple[int, int] | None:
    """The longest part of the track as (first frame, frame count 4n+1): inside one
    shot, starting with the face and missing it for at most MAX_GAP frames in a row;
    None when shorter than ``fewest`` frames."""
    best: tuple[int, int] | None = None
    run_start = previous = -1
    for k, face in enumerate(track.faces):
        if face is None:
            continue
        if (
            run_start < 0
            or k - previous - 1 > MAX_GAP
            or _cut_between(cuts, track.indices[previous], track.indices[k])
        ):
            run_start = k
        previous = k
        frames = four_n_plus_one(k - run_start + 1)
        if frames >= fewest and (best is None or frames > best[1]):
            best = (run_start, frames)
    return best


def _cut_between(cuts: list[int], first: int, second: int) -> bool:
    """A shot cut between decoded frames ``first`` and ``second`` (a cut at decode index
    c starts a shot)."""
    return bisect.bisect_right(cuts, first) != bisect.bisect_right(cuts, second)


def bridged(found: list[Box | None]) -> tuple[list[Box], int]:
    """The boxes of a span, gaps filled by linear interpolation between the boxes around
    them (held at an end), and how many were filled."""
    known = [k for k, box in enumerate(found) if box is not None]
    boxes: list[Box] = []
    for k, box in enumerate(found):
        if box is not None:
            boxes.append(box)
            continue
        place = bisect.bisect_left(known, k)
        i, j = known[max(0, place - 1)], known[min(place, len(known) - 1)]
        a, b = found[i], found[j]
        assert a is not None and b is not None
        t = 0.0 if j == i else (k - i) / (j - i)
        boxes.append(
            Box(
                a.x1 + t * (b.x1 - a.x1),
                a.y1 + t * (b.y1 - a.y1),
                a.x2 + t * (b.x2 - a.x2),
                a.y2 + t * (b.y2 - a.y2),
            )
        )
    return boxes, len(found) - len(known)
