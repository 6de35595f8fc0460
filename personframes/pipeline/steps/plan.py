"""Plan: decide which images to write from the scanned frames."""

from __future__ import annotations

from typing import Any

from ..context import RunContext
from .base import Step
from .scan import INFO_KEY, ScanStep


def scanned_frames(ctx: RunContext) -> list[dict[str, Any]]:
    return [r for r in ctx.store.records(ctx.video_key, ScanStep.NAME) if "index" in r]


def scan_info(ctx: RunContext) -> dict[str, Any]:
    for record in ctx.store.records(ctx.video_key, ScanStep.NAME):
        if "video" in record:
            return dict(record)
    raise KeyError(INFO_KEY)


class PlanStep(Step):
    """Every face of every candidate frame becomes a face crop, and its frame a full frame."""

    NAME = "plan"
    SECTIONS = ("output",)

    def run(self, ctx: RunContext) -> None:
        out = ctx.config.output
        ext = out.format
        items: list[tuple[str, int, Any]] = []
        seq = 0
        for frame in scanned_frames(ctx):
            if not frame["faces"]:
                continue
            index = frame["index"]
            if out.full_frames:
                name = f"{ctx.stem}_frame_{index:06d}.{ext}"
                items.append(
                    (name, seq, {"kind": "frame", "file": name, "frame_index": index, "seq": seq})
                )
                seq += 1
            if out.face_crops:
                for n, _face in enumerate(frame["faces"]):
                    name = f"{ctx.stem}_face_{index:06d}_{n:02d}.{ext}"
                    items.append(
                        (
                            name,
                            seq,
                            {
                                "kind": "face",
                                "file": name,
                                "frame_index": index,
                                "face": n,
                                "seq": seq,
                            },
                        )
                    )
                    seq += 1
        ctx.store.commit_progress(ctx.video_key, self.NAME, seq, items, done=True)
