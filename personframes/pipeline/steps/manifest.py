"""Manifest: ``{video}_info.json`` describing the run and every output file."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from ... import __version__
from ...config import PLACEMENT_SETTINGS, Config
from ...output.naming import manifest_name
from ...output.writer import write_json
from ...state.records import (
    INFO_KEY,
    SUMMARY_KEY,
    ClipItem,
    ClipsInfo,
    IdentitySummary,
    RestorationRecord,
    RunSummary,
    ScanFrame,
    ScanInfo,
    SelectInfo,
    WriteItem,
)
from ...state.review import ReviewStore
from ...state.review_manifest import annotate
from ..context import RunContext
from ..fallbacks import count_fallbacks
from .base import Step
from .clips import ClipStep
from .scan import scan_results
from .select import SelectStep
from .write import WriteStep

SCHEMA_VERSION = 1
# The settings a manifest records: every section but review's and export's.
MANIFEST_SECTIONS = (
    "models",
    "sampling",
    "pose",
    "head_angle",
    "quality",
    "selection",
    "output",
    "restore",
    "pipeline",
    "logging",
)


def manifest_config(config: Config) -> dict[str, Any]:
    """The settings a manifest records (not where the work ran: PLACEMENT_SETTINGS; the
    clips section only when clips were asked for)."""
    sections = (*MANIFEST_SECTIONS, "clips") if config.clips.enabled else MANIFEST_SECTIONS
    recorded = {k: v for k, v in config.to_dict().items() if k in sections}
    recorded["pipeline"] = {
        k: v for k, v in recorded["pipeline"].items() if k not in PLACEMENT_SETTINGS
    }
    return recorded


def identity_summary(restorations: list[RestorationRecord]) -> IdentitySummary:
    """How far the restored faces moved from their Lanczos resize (face identity
    distance: count, median, max) and how many were refused for identity drift."""
    distances = sorted(
        float(r.identity_distance) for r in restorations if r.identity_distance is not None
    )
    return IdentitySummary(
        checked=len(distances),
        median=round(statistics.median(distances), 4) if distances else None,
        max=distances[-1] if distances else None,
        drift=sum(1 for r in restorations if r.identity_drift),
    )


def clip_entry(clip: ClipItem) -> dict[str, Any]:
    """A clip as info.json lists it among the outputs (kind ``clip``)."""
    return {
        "file": clip.path,
        "kind": "clip",
        "person_id": clip.person_id,
        "start_s": clip.start_s,
        "end_s": clip.end_s,
        "frames": clip.frames,
        "fps": clip.fps,
        "size": list(clip.size),
        "shot": clip.shot,
        "frame_indices": [clip.first_frame_index, clip.last_frame_index],
        "pose": clip.pose,
        "head_direction": clip.head_direction,
        "shot_type": clip.shot_type,
        "crop": clip.crop,
        "crop_boxes_xywh": [list(box) for box in clip.crop_boxes_xywh],  # frame by frame
        "frames_bridged": clip.frames_bridged,
        "jitter_px": {"raw": clip.jitter_px, "smoothed": clip.smoothed_jitter_px},
        "quality": clip.quality.model_dump(),
        "selection": {"rank": clip.rank, "reason": clip.reason},
        "caption": clip.caption if clip.folder is None else f"{clip.folder}/{clip.caption}",
    }


class ManifestStep(Step):
    NAME = "manifest"
    SECTIONS = ("output",)

    def still_valid(self, ctx: RunContext) -> bool:
        return (ctx.output_dir / manifest_name(ctx.stem)).is_file()

    def run(self, ctx: RunContext) -> None:
        info, scanned = scan_results(ctx)
        frames = {f.index: f for f in scanned}
        written = ctx.store.load(WriteStep.NAME, WriteItem)
        outputs: list[dict[str, Any]] = []
        for record in written:
            frame = frames[record.frame_index]
            person = frame.people[record.face]
            head = person.head
            entry: dict[str, Any] = {
                "file": record.path,  # relative to the output folder
                "kind": record.kind,
                "frame_index": record.frame_index,
                "time_s": frame.time_s,
                "size": list(record.size),
                "person_id": record.person_id,
                "pose": record.pose,
                "head_direction": record.head_direction,
                "shot_type": record.shot_type,
                "head_angles": {
                    "yaw": head.yaw,
                    "pitch": head.pitch,
                    "roll": head.roll,
                    "method": head.method,
                },
                "classification_reasons": {
                    "pose": person.pose.reason,
                    "head": head.reason,
                    "shot": person.shot.reason,
                },
                "quality": record.quality.model_dump(),
                "frame_quality": frame.quality.model_dump(),
                "selection": {"rank": record.rank, "reason": record.reason},
                # None: a person found by their body alone (seen from behind)
                "face": frame.faces[record.face].for_manifest()
                if record.face < len(frame.faces)
                else None,
            }
            optional = {
                "crop_box_xywh": None
                if record.crop_box_xywh is None
                else list(record.crop_box_xywh),
                "caption": record.caption
                if record.caption is None or record.folder is None
                else f"{record.folder}/{record.caption}",
                "restoration": None
                if record.restoration is None
                else record.restoration.model_dump(),
                "body_box_estimated": record.body_box_estimated,
                "person_ids": record.person_ids,  # a full frame chosen for several people
                "reference_distance": record.reference_distance,  # --reference-face
                "person_reference_distance": record.person_reference_distance,
                "head_in_frame": person.head_in_frame,  # None: no face
            }
            entry.update({k: v for k, v in optional.items() if v is not None})
            outputs.append(entry)
        clips = ctx.store.load(ClipStep.NAME, ClipItem) if ctx.config.clips.enabled else []
        outputs.extend(clip_entry(clip) for clip in clips)
        with ReviewStore(ctx.output_dir, reading=True) as review:
            annotate(outputs, ctx.stem, review)
        selection = ctx.store.load_one(SelectStep.NAME, INFO_KEY, SelectInfo)
        summary = RunSummary(
            **self._stats(info, frames, written),
            **selection.model_dump(),
            clips=len(clips) if ctx.config.clips.enabled else None,
            clips_left_out=self._clips_left_out(ctx),
        )
        document = {
            "schema_version": SCHEMA_VERSION,
            "generator": f"personframes {__version__}",
            "video": {
                **info.video.model_dump(),
                "path": str(ctx.video_path),
                "content_hash": ctx.video_key,
            },
            "config": manifest_config(ctx.config),
            "summary": summary.model_dump(),
            "outputs": outputs,
        }
        write_json(ctx.output_dir / manifest_name(ctx.stem), document)
        ctx.store.commit_progress(self.NAME, 0, [(SUMMARY_KEY, 0, summary)], done=True)

    @staticmethod
    def _clips_left_out(ctx: RunContext) -> dict[str, int] | None:
        if not ctx.config.clips.enabled:
            return None
        info = ctx.store.load_one(ClipStep.NAME, INFO_KEY, ClipsInfo)
        return {
            "too_soft": info.too_soft,
            "lost": info.lost,
            "no_face": info.no_face,
            "too_small": info.too_small,
        }

    @staticmethod
    def _stats(
        info: ScanInfo, frames: dict[int, ScanFrame], written: list[WriteItem]
    ) -> dict[str, Any]:
        kinds = Counter(r.kind for r in written)
        picks = {(r.person_id, r.pose, r.head_direction, r.frame_index, r.face) for r in written}
        categories = Counter(f"{pose}/{head}" for _, pose, head, _, _ in picks)
        restorations = [r.restoration for r in written if r.restoration is not None]
        return {
            "frames_decoded": info.frames_decoded,
            "candidates": info.candidates,
            "duplicates_removed": info.duplicates_removed,
            "frames_with_faces": sum(1 for f in frames.values() if f.faces),
            "faces": sum(len(f.faces) for f in frames.values()),
            "files_written": len(written),
            "outputs_by_kind": dict(kinds),
            "selected_by_category": dict(sorted(categories.items())),  # not set order
            "restorations": sum(1 for r in restorations if r.restored),
            "restoration_decisions": dict(Counter(r.decision for r in restorations)),
            "restoration_identity": identity_summary(restorations),
            "restoration_engines": dict(
                Counter(
                    f"{r.engine} {r.precision}" for r in restorations if r.restored and r.engine
                )
            ),
            "fallbacks": count_fallbacks(info, list(frames.values()), written),
        }
