"""Manifest: ``{video}_info.json`` describing the run and every output file."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ... import __version__
from ...output.writer import write_json
from ..context import RunContext
from ..records import face_for_manifest, face_from_dict
from .base import Step
from .scan import HEAD_POSE_FALLBACK, scan_results
from .select import SelectStep
from .write import SEEK_FALLBACK, WriteStep

SCHEMA_VERSION = 1


def manifest_name(stem: str) -> str:
    return f"{stem}_info.json"


class ManifestStep(Step):
    NAME = "manifest"
    SECTIONS = ("output",)

    def still_valid(self, ctx: RunContext) -> bool:
        return (ctx.output_dir / manifest_name(ctx.stem)).is_file()

    def run(self, ctx: RunContext) -> None:
        info, scanned = scan_results(ctx)
        frames = {f["index"]: f for f in scanned}
        written = ctx.store.records(ctx.video_key, WriteStep.NAME)
        outputs: list[dict[str, Any]] = []
        for record in written:
            frame = frames[record["frame_index"]]
            person = frame["people"][record["face"]]
            entry: dict[str, Any] = {
                "file": record["file"],
                "kind": record["kind"],
                "frame_index": record["frame_index"],
                "time_s": frame["time_s"],
                "size": record["size"],
                "person_id": record["person_id"],
                "pose": record["pose"],
                "head_direction": record["head_direction"],
                "shot_type": record["shot_type"],
                "head_angles": {k: person["head"][k] for k in ("yaw", "pitch", "roll", "method")},
                "classification_reasons": {
                    "pose": person["pose"]["reason"],
                    "head": person["head"]["reason"],
                    "shot": person["shot"]["reason"],
                },
                "quality": record["quality"],
                "frame_quality": frame["quality"],
                "selection": {"rank": record["rank"], "reason": record["reason"]},
                "face": face_for_manifest(face_from_dict(frame["faces"][record["face"]])),
            }
            for key in ("crop_box_xywh", "caption", "restoration", "body_box_estimated"):
                if key in record:
                    entry[key] = record[key]
            outputs.append(entry)
        selection = next(
            r for r in ctx.store.records(ctx.video_key, SelectStep.NAME) if "selected" in r
        )
        stats = {**self._stats(info, frames, written), **selection}
        document = {
            "schema_version": SCHEMA_VERSION,
            "generator": f"personframes {__version__}",
            "video": {**info["video"], "path": str(ctx.video_path), "content_hash": ctx.video_key},
            "config": ctx.config.to_dict(),
            "summary": stats,
            "outputs": outputs,
        }
        write_json(ctx.output_dir / manifest_name(ctx.stem), document)
        ctx.store.commit_progress(ctx.video_key, self.NAME, 0, [("summary", 0, stats)], done=True)

    @staticmethod
    def _stats(
        info: dict[str, Any], frames: dict[int, dict[str, Any]], written: list[dict[str, Any]]
    ) -> dict[str, Any]:
        kinds = Counter(r["kind"] for r in written)
        picks = {
            (r["person_id"], r["pose"], r["head_direction"], r["frame_index"], r["face"])
            for r in written
        }
        categories = Counter(f"{pose}/{head}" for _, pose, head, _, _ in picks)
        fallbacks = Counter(
            f"face restoration: {r['restoration']['reason']}"
            for r in written
            if r.get("restoration", {}).get("fell_back")
        )
        fallbacks.update(
            "body crop: no body landmarks, region estimated from face"
            for r in written
            if r.get("body_box_estimated")
        )
        fallbacks.update(
            f"head pose: {HEAD_POSE_FALLBACK}"
            for f in frames.values()
            for p in f["people"]
            if p["head"]["method"] == "keypoints"
        )
        fallbacks.update(
            f"frame seeking: {SEEK_FALLBACK}" for r in written if r.get("reread_from_start")
        )
        if info.get("frames_without_pts"):
            fallbacks["video timestamps: frames without pts, timed from the frame rate"] = info[
                "frames_without_pts"
            ]
        return {
            "frames_decoded": info["frames_decoded"],
            "candidates": info["candidates"],
            "duplicates_removed": info["duplicates_removed"],
            "frames_with_faces": sum(1 for f in frames.values() if f["faces"]),
            "faces": sum(len(f["faces"]) for f in frames.values()),
            "files_written": len(written),
            "outputs_by_kind": dict(kinds),
            "selected_by_category": dict(categories),
            "restorations": sum(1 for r in written if r.get("restoration", {}).get("restored")),
            "restoration_decisions": dict(
                Counter(r["restoration"]["decision"] for r in written if "restoration" in r)
            ),
            "fallbacks": dict(fallbacks),
        }
