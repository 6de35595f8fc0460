"""Write: decode the planned frames again and write crops and full frames atomically."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from typing import Any

from ...output.crops import crop_box, cut
from ...output.writer import write_image
from ...types import Image
from ...video.decode import VideoReader
from ..context import RunContext
from ..records import face_from_dict
from .base import Step
from .plan import PlanStep, scanned_frames


class WriteStep(Step):
    NAME = "write"
    SECTIONS = ("output",)

    def _written(self, ctx: RunContext) -> list[dict[str, Any]]:
        return ctx.store.records(ctx.video_key, self.NAME)

    def still_valid(self, ctx: RunContext) -> bool:
        return all((ctx.output_dir / r["file"]).is_file() for r in self._written(ctx))

    def discard(self, ctx: RunContext) -> None:
        for record in self._written(ctx):
            with contextlib.suppress(OSError):
                (ctx.output_dir / record["file"]).unlink()

    def run(self, ctx: RunContext) -> None:
        out = ctx.config.output
        plan = ctx.store.records(ctx.video_key, PlanStep.NAME)
        done = ctx.store.record_keys(ctx.video_key, self.NAME)
        todo: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for item in plan:
            if item["file"] not in done:
                todo[item["frame_index"]].append(item)
        frames = {f["index"]: f for f in scanned_frames(ctx)}
        finished = len(done)
        started = time.perf_counter()
        with VideoReader(ctx.video_path) as reader:
            for frame in reader.read(set(todo)):
                if ctx.stop.is_set():
                    ctx.stop.check(f"while writing {ctx.video_path.name}")
                records = []
                for item in todo[frame.index]:
                    image, extra = self._render(ctx, frame.image, frames[frame.index], item)
                    write_image(ctx.output_dir / item["file"], image, out.format, out.jpg_quality)
                    records.append((item["file"], item["seq"], {**item, **extra}))
                finished += len(records)
                now = time.perf_counter()
                ctx.store.commit_progress(
                    ctx.video_key, self.NAME, frame.index, records, seconds=now - started
                )
                started = now
                ctx.progress(self.NAME, finished, len(plan))
        ctx.store.commit_progress(ctx.video_key, self.NAME, -1, [], done=True)

    def _render(
        self, ctx: RunContext, image: Image, frame: dict[str, Any], item: dict[str, Any]
    ) -> tuple[Image, dict[str, Any]]:
        out = ctx.config.output
        if item["kind"] == "frame":
            return image, {"size": [int(image.shape[1]), int(image.shape[0])]}
        face = face_from_dict(frame["faces"][item["face"]])
        height, width = image.shape[:2]
        box = crop_box(face.box, width, height, out.face_crop_padding)
        crop = cut(image, box)
        return crop, {
            "crop_box_xywh": box.as_xywh(),
            "size": [int(crop.shape[1]), int(crop.shape[0])],
        }
