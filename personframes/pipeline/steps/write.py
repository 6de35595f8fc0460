"""Write: decode the selected frames again and write images (and captions) atomically."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ...detect.pose import body_region
from ...output.captions import caption_text
from ...output.crops import RATIOS, crop_box, cut, head_box, snap_to_bucket
from ...output.naming import person_folder
from ...output.writer import write_image, write_text
from ...resize import shrink_to_fit
from ...restore import FaceRestorer, create_restorer, target_size_for
from ...restore.align import face_points
from ...restore.engine_choice import Candidate
from ...restore.loading import recorded as recorded_engines
from ...restore.settings import RestorationSettings
from ...state.records import EngineUsed, RestorationRecord, ScanFrame, SelectItem, WriteItem
from ...types import Box, Image
from ...video.decode import VideoReader
from ...video.revisit import FrameRef, Revisit
from ..context import RunContext
from ..fallbacks import Fallback
from ..restored import RestoredCrops, before_folder, before_path, cache_key
from .base import Step
from .scan import scan_results
from .select import SelectStep


def planned(ctx: RunContext) -> list[SelectItem]:
    return ctx.store.load(SelectStep.NAME, SelectItem)


class WriteStep(Step):
    NAME = "write"
    SECTIONS = ("output",)
    TEMP = "before_restoration"

    def _written(self, ctx: RunContext) -> list[WriteItem]:
        return ctx.store.load(self.NAME, WriteItem)

    @staticmethod
    def _files(ctx: RunContext, record: WriteItem) -> list[Path]:
        names = [record.file] + ([record.caption] if record.caption else [])
        return [ctx.output_file(name, record.folder) for name in names]

    def still_valid(self, ctx: RunContext) -> bool:
        return all(path.is_file() for r in self._written(ctx) for path in self._files(ctx, r))

    def discard(self, ctx: RunContext) -> None:
        for record in self._written(ctx):
            for path in self._files(ctx, record):
                with contextlib.suppress(OSError):
                    path.unlink()
            if record.folder is not None:
                with contextlib.suppress(OSError):  # a person's folder, once it is empty
                    ctx.output_file(record.file, record.folder).parent.rmdir()
        folder = self._before_folder(ctx)
        if folder.exists():
            shutil.rmtree(folder, True)  # links inside are removed, never followed

    def forget(self, ctx: RunContext) -> None:
        RestoredCrops(ctx).forget()

    @staticmethod
    def _before_folder(ctx: RunContext) -> Path:
        """``OUT/.personframes/before/VIDEO_KEY``: restored faces' crops before restoration,
        for the review gallery's before/after view."""
        return ctx.own_folder(ctx.output_dir / before_folder(ctx.video_key))

    def _keep_before(self, ctx: RunContext, file: str, crop: Image) -> str:
        ctx.make_own_folder(self._before_folder(ctx))
        path = ctx.output_dir / before_path(ctx.video_key, file)
        write_image(path, crop, "png", 95)
        return path.name

    def run(self, ctx: RunContext) -> None:
        out = ctx.config.output
        plan = planned(ctx)
        done = ctx.store.record_keys(self.NAME)
        todo: dict[int, list[SelectItem]] = defaultdict(list)
        for item in plan:
            if item.file not in done:
                todo[item.frame_index].append(item)
        info, scanned = scan_results(ctx)
        frames = {f.index: f for f in scanned}
        restoring = out.face_restoration and out.face_restoration_strength > 0
        cache = RestoredCrops(ctx)
        if restoring and any(i.kind == "face" for items in todo.values() for i in items):
            # A missing or corrupt model file is a set-up error, not a per-crop fallback:
            # fail now with the file and the repair command rather than degrade silently
            # (the engine is loaded, and chosen, by the first face that needs the model).
            self._restorer(ctx).check()
        finished = len(done)
        refs = [FrameRef(i, frames[i].time_s, int(frames[i].dhash, 16)) for i in sorted(todo)]
        with VideoReader(ctx.video_path) as reader:
            # Without timestamps on every frame, seeking cannot find frames by time.
            seekable = [] if info.frames_without_pts else info.keyframe_times
            revisit = Revisit(reader, refs, seekable)
            for frame in revisit:
                if ctx.stop.is_set():
                    ctx.stop.check(f"while writing {ctx.video_path.name}")
                if revisit.mismatch is not None:
                    ctx.fallbacks.warn(Fallback.FRAME_SEEKING, revisit.mismatch)
                records: list[tuple[str, int, WriteItem]] = []
                for item in todo[frame.index]:
                    image, extra = self._render(ctx, cache, frame.image, frames[frame.index], item)
                    folder = person_folder(item.person_id) if out.group_by_person else None
                    if folder is not None:
                        ctx.output_person_folder(folder, make=True)
                        extra["folder"] = folder
                    t0 = time.perf_counter()
                    write_image(
                        ctx.output_file(item.file, folder),
                        image,
                        out.format,
                        out.jpg_quality,
                        png_optimize=out.png_optimize,
                    )
                    ctx.timings["encode"] += time.perf_counter() - t0
                    if out.caption:
                        caption = item.file.rsplit(".", 1)[0] + ".txt"
                        write_text(
                            ctx.output_file(caption, folder),
                            caption_text(
                                [out.trigger] if out.trigger else [],
                                item.pose,
                                item.head_direction,
                                item.shot_type,
                            ),
                        )
                        extra["caption"] = caption
                    if revisit.mismatch is not None:
                        extra["reread_from_start"] = True
                    written = WriteItem.model_validate({**item.model_dump(), **extra}, strict=False)
                    records.append((item.file, item.seq, written))
                finished += len(records)
                ctx.store.commit_progress(self.NAME, frame.index, records)
                ctx.progress(self.NAME, finished, len(plan))
        ctx.store.commit_progress(self.NAME, -1, [], done=True)
        cache.keep_only({r.restored_key for r in self._written(ctx) if r.restored_key})

    def _render(
        self,
        ctx: RunContext,
        cache: RestoredCrops,
        image: Image,
        frame: ScanFrame,
        item: SelectItem,
    ) -> tuple[Image, dict[str, Any]]:
        out = ctx.config.output
        extra: dict[str, Any] = {}
        height, width = image.shape[:2]
        ratio = RATIOS[out.crop_ratio]
        if item.kind == "frame":
            result = image
        else:
            face = frame.faces[item.face].detection() if item.face < len(frame.faces) else None
            if item.kind == "face":
                assert face is not None  # select plans no face crop of a body alone
                box = crop_box(head_box(face), width, height, out.face_crop_padding, ratio)
            else:
                body = frame.people[item.face].body_box
                if body is None:
                    assert face is not None  # a body alone always has its box
                    ctx.fallbacks.warn(Fallback.BODY_CROP)
                    extra["body_box_estimated"] = True
                    region = body_region(face.box, width, height)
                else:
                    region = Box(*body)
                box = crop_box(region, width, height, out.crop_padding, ratio)
            result = cut(image, box)
            extra["crop_box_xywh"] = box.as_xywh()
            if item.kind == "face" and face is not None and out.face_restoration:
                ctx.keep_intermediate(self.TEMP, item.file.rsplit(".", 1)[0], result)
                x1, y1 = round(box.x1), round(box.y1)  # the crop's origin, as ``cut`` has it
                points = face_points(face) - np.array([x1, y1], np.float64)
                restored, record, key = self._restore(ctx, cache, result, face.box.height, points)
                extra["restoration"] = record
                if record.restored:
                    extra["before"] = self._keep_before(ctx, item.file, result)
                result = restored
                if key is not None:
                    extra["restored_key"] = key
                result = snap_to_bucket(result, out.bucket, ratio)
                return result, {**extra, "size": _size(result)}
        result = snap_to_bucket(shrink_to_fit(result, out.resize), out.bucket)
        extra["size"] = _size(result)
        return result, extra

    @staticmethod
    def _restorer(ctx: RunContext) -> FaceRestorer:
        return create_restorer(ctx.models, RestorationSettings.from_config(ctx.config))

    @staticmethod
    def _recorded(cache: RestoredCrops) -> dict[tuple[str, float], Candidate]:
        """The engines and precisions this video's faces were restored with by an earlier
        run: a resumed run restores the rest with them (the same pixels), whatever the
        machine's saved choice or ``--restore-engine`` say now."""
        return {
            (u.model, float(u.strength)): Candidate(u.engine, u.precision)  # type: ignore[arg-type]
            for u in cache.engines_used.values()
        }

    def _restore(
        self,
        ctx: RunContext,
        cache: RestoredCrops,
        crop: Image,
        face_px: float,
        points: np.ndarray,
    ) -> tuple[Image, RestorationRecord, str | None]:
        """Face restoration per the plan: target max(512, --resize); the policy decides
        per face whether the model runs and at which strength (at most the given one).
        A crop restored by an earlier run with the same settings is taken from the
        cache; returns the image, its record and its cache key (None: not cached)."""
        out = ctx.config.output
        target = target_size_for(out.resize)
        settings: dict[str, Any] = {
            "model": out.face_restoration_model,
            "strength": out.face_restoration_strength,
            "policy": out.face_restoration_policy,
            "max_drift": out.face_restoration_max_drift,
            "precision": ctx.config.models.precision,
            "target": target,
            "face_px": round(face_px, 2),
        }
        restorer = self._restorer(ctx)
        if restorer.USES_KEYPOINTS:
            settings["keypoints"] = np.round(points, 2).tolist()
        key = cache_key(crop, settings)
        cached = cache.get(key)
        if cached is not None and cache.made_by_recorded_engine(cached[1]):
            return cached[0], cached[1], key
        t0 = time.perf_counter()
        with recorded_engines(ctx.models, self._recorded(cache)):
            result = restorer.restore_crop(
                crop,
                target,
                out.face_restoration_strength,
                face_px=face_px,
                landmarks=points,  # the scan's keypoints: face models align by them
            )
        ctx.timings["restore"] += time.perf_counter() - t0
        if result.engine is not None and result.precision is not None:
            used = EngineUsed(
                model=result.model,
                strength=result.decision.strength if result.decision else 0.0,
                engine=result.engine,
                precision=result.precision,
            )
            cache.record_engine(used)
        if result.fell_back:
            ctx.fallbacks.warn(
                Fallback.FACE_RESTORATION, str(result.reason), f"{result.model} -> Lanczos"
            )
            if not result.identity_drift:  # not kept: the next run tries the model again
                return result.image, RestorationRecord.model_validate(result.record()), None
        record = RestorationRecord.model_validate(result.record())
        cache.put(key, result.image, record)
        return result.image, record, key


def _size(image: Image) -> list[int]:
    return [int(image.shape[1]), int(image.shape[0])]
