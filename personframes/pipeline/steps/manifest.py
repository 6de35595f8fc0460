"""Manifest: ``{video}_info.json`` describing the run and every output file."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ... import __version__
from ...output.writer import write_json
from ..context import RunContext
from ..records import face_for_manifest, face_from_dict
from .base import Step
from .plan import scan_info, scanned_frames
from .write import WriteStep

SCHEMA_VERSION = 1


def manifest_name(stem: str) -> str:
    return f"{stem}_info.json"


class ManifestStep(Step):
    NAME = "manifest"
    SECTIONS = ("output",)

    def still_valid(self, ctx: RunContext) -> bool:
        return (ctx.output_dir / manifest_name(ctx.stem)).is_file()

    def run(self, ctx: RunContext) -> None:
        info = scan_info(ctx)
        frames = {f["index"]: f for f in scanned_frames(ctx)}
        written = ctx.store.records(ctx.video_key, WriteStep.NAME)
        outputs: list[dict[str, Any]] = []
        for record in written:
            frame = frames[record["frame_index"]]
            entry: dict[str, Any] = {
                "file": record["file"],
                "kind": record["kind"],
                "frame_index": record["frame_index"],
                "time_s": frame["time_s"],
                "size": record["size"],
            }
            if record["kind"] == "face":
                entry["face"] = face_for_manifest(face_from_dict(frame["faces"][record["face"]]))
                entry["crop_box_xywh"] = record["crop_box_xywh"]
            else:
                entry["faces"] = [face_for_manifest(face_from_dict(f)) for f in frame["faces"]]
            for key in ("restoration",):
                if key in record:
                    entry[key] = record[key]
            outputs.append(entry)
        stats = self._stats(info, frames, written)
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
        fallbacks = Counter(
            r["restoration"]["reason"] for r in written if r.get("restoration", {}).get("fell_back")
        )
        return {
            "frames_decoded": info["frames_decoded"],
            "candidates": info["candidates"],
            "duplicates_removed": info["duplicates_removed"],
            "frames_with_faces": sum(1 for f in frames.values() if f["faces"]),
            "faces": sum(len(f["faces"]) for f in frames.values()),
            "files_written": len(written),
            "outputs_by_kind": dict(kinds),
            "restorations": sum(1 for r in written if "restoration" in r),
            "fallbacks": dict(fallbacks),
        }
