"""Between the scan's records and the clips': the people as the clip planner sees them,
and a clip's record (name, times, crop, the pose, head and shot most seen in it)."""

from __future__ import annotations

import bisect
import statistics
from collections import Counter

from ..analyze.clip_plan import Sighting
from ..config import Config
from ..output.naming import clip_name, person_folder
from ..state.records import ClipItem, ClipQuality, ScanFrame
from ..types import Box
from .clip_framing import Cut
from .video_analysis import VideoAnalysis


def sightings(video: VideoAnalysis, frames: list[ScanFrame], cuts: list[int]) -> list[Sighting]:
    """Every person of every scanned frame, with the person ids of ``video`` (the
    select step's analysis of the same frames)."""
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


def _ranks(clips: list[Cut]) -> dict[int, int]:
    """Each clip's rank (by ``id``) among its person's clips: by quality, then time."""
    ordered = sorted(clips, key=lambda c: (c.window.person_id, -c.window.quality, c.window.start_s))
    ranks: dict[int, int] = {}
    seen: Counter[int] = Counter()
    for clip in ordered:
        seen[clip.window.person_id] += 1
        ranks[id(clip)] = seen[clip.window.person_id]
    return ranks


def clip_items(config: Config, stem: str, clips: list[Cut]) -> list[ClipItem]:
    """The clips' records, named in time order per person, ranked by quality."""
    out = config.output
    numbers: Counter[int] = Counter()
    ranks = _ranks(clips)
    items = []
    for seq, clip in enumerate(clips):
        w = clip.window
        numbers[w.person_id] += 1
        name = clip_name(stem, w.person_id, numbers[w.person_id])
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
                crop=config.clips.crop,
                crop_boxes_xywh=[_xywh(box) for box in clip.boxes],
                frames_bridged=clip.bridged,
                jitter_px=round(clip.jitter, 3),
                smoothed_jitter_px=round(clip.smoothed_jitter, 3),
                pose=_majority([s.pose for s in seen]),
                head_direction=_majority([s.head_direction for s in seen]),
                shot_type=_majority([s.shot_type for s in seen]),
                quality=ClipQuality(
                    overall=round(statistics.fmean(s.quality for s in seen), 4),
                    sharpness_laplacian_var=round(statistics.median(s.sharpness for s in seen), 2),
                ),
                rank=ranks[id(clip)],
            )
        )
    return items


def _xywh(box: Box) -> tuple[int, int, int, int]:
    x, y, w, h = box.as_xywh()
    return round(x), round(y), round(w), round(h)
