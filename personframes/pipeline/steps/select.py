"""Select: pick frames per category from the video's analysis, and record them named."""

from __future__ import annotations

from ...output.naming import OutputKind, name_outputs
from ..analysis import analyze_video
from ..context import RunContext
from ..records import INFO_KEY, Record, SelectInfo, SelectItem
from ..selection import select_frames
from .base import Step
from .scan import scan_results


class SelectStep(Step):
    NAME = "select"
    SECTIONS = (
        "quality",
        "selection",
        "sampling.dedup_distance",
        "output.format",  # the names' extension
        "output.full_frames",
        "output.face_crops",
        "output.body_crops",
    )

    def run(self, ctx: RunContext) -> None:
        cfg = ctx.config
        info, frames = scan_results(ctx)
        video = analyze_video(frames, info.shot_cuts)
        selected = select_frames(
            [p.candidate for p in video.people],
            cfg.selection,
            cfg.quality,
            dedup_distance=cfg.sampling.dedup_distance,
        )
        quality = {
            (p.candidate.frame_index, p.candidate.detection_index): p.quality for p in video.people
        }
        wanted: dict[OutputKind, bool] = {
            "frame": cfg.output.full_frames,
            "face": cfg.output.face_crops,
            "body": cfg.output.body_crops,
        }
        kinds = [kind for kind, on in wanted.items() if on]
        items: list[tuple[str, int, Record]] = []
        by_name: dict[str, int] = {}  # name -> its place in items
        for kind, name, chosen in name_outputs(selected, ctx.stem, kinds, cfg.output.format):
            c = chosen.candidate
            if name in by_name:  # the same full frame, chosen for another person too
                place = by_name[name]
                first = items[place][2]
                assert isinstance(first, SelectItem)
                ids = [*(first.person_ids or [first.person_id]), c.person_id]
                items[place] = (name, place, first.model_copy(update={"person_ids": ids}))
                continue
            item = SelectItem(
                kind=kind,
                file=name,
                frame_index=c.frame_index,
                face=c.detection_index,
                person_id=c.person_id,
                pose=c.pose,
                head_direction=c.head_direction,
                shot_type=c.shot_type,
                rank=chosen.rank,
                quality=quality[(c.frame_index, c.detection_index)],
                reason=chosen.reason,
                seq=len(items),
            )
            by_name[name] = len(items)
            items.append((name, len(items), item))
        summary = SelectInfo(
            shot_cuts=info.shot_cuts,
            people=video.person_count,
            candidates_unknown_head=video.unknown_head,
            selected=len(selected),
        )
        ctx.store.commit_progress(
            ctx.video_key, self.NAME, len(items), [*items, (INFO_KEY, -1, summary)], done=True
        )
