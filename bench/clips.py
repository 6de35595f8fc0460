"""Clips for video-model LoRAs (``extract --clips``): how many per minute of video, the
seconds each costs, and how much the person crop's box shakes before and after it is
smoothed.

Usage: python bench/clips.py [--strip PNG] [VIDEO ...]   (default: both shared videos)

Prints one JSON object per video: its length; with ``--clip-crop person`` (wan preset,
faces not restored): clips, clips per minute of video, seconds per clip of following the
person (pass one) and of cutting and encoding (pass two); and the jitter (pixels per
frame: each frame's box from the midpoint of its neighbours', mean over the box's
edges) of the person's raw box, of the crop at ``--clip-smoothing 0`` (the raw box's
centre, one size) and of the crop at the default smoothing. ``--strip`` also saves a
contact strip: five frames of each of (up to) three clips, a row per clip.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from personframes.config import load_config
from personframes.models.session import ModelSession
from personframes.pipeline.context import StopFlag
from personframes.pipeline.runner import process_video
from personframes.resize import lanczos
from personframes.video.decode import probe_video

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"


def _run(video: Path, out: Path, session: ModelSession, smoothing: float | None) -> dict[str, Any]:
    clips: dict[str, Any] = {"enabled": True, "crop": "person"}
    if smoothing is not None:
        clips["smoothing"] = smoothing
    config = load_config(
        cli={
            "output": {"output_dir": out, "face_restoration": False},
            "clips": clips,
            "logging": {"quiet": True},
        }
    )
    result = process_video(video, config, session, StopFlag())
    info = json.loads(result.manifest.read_text()) if result.manifest else {}
    entries = [e for e in info.get("outputs", []) if e["kind"] == "clip"]
    return {"seconds": result.summary.get("stage_seconds", {}), "clips": entries}


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def _frames(path: Path, count: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in picks]


def strip(clips: list[Path], path: Path, height: int = 160) -> None:
    """Five frames of each clip side by side, a row per clip, each frame ``height`` tall."""
    rows = []
    for clip in clips:
        frames = [lanczos(f, fit_height(f, height)) for f in _frames(clip, 5)]
        rows.append(np.concatenate(frames, axis=1))
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    Image.fromarray(np.concatenate(padded, axis=0)).save(path)


def fit_height(image: np.ndarray, height: int) -> tuple[int, int]:
    return max(1, round(image.shape[1] * height / image.shape[0])), height


def measure(video: Path, kept: list[Path]) -> dict[str, Any]:
    session = ModelSession()
    duration = probe_video(video).duration_s
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        smoothed = _run(video, out, session, None)
        for entry in smoothed["clips"]:
            kept.append(Path(tempfile.mkdtemp()) / Path(entry["file"]).name)
            shutil.copyfile(out / entry["file"], kept[-1])
        raw = _run(video, out, session, 0.0)  # only the clips are made again
    clips = smoothed["clips"]
    count = len(clips)
    seconds = smoothed["seconds"]
    return {
        "video": video.name,
        "duration_s": round(duration, 2),
        "clips": count,
        "clips_per_minute": round(count / duration * 60, 2),
        "frames": [c["frames"] for c in clips],
        "track_s_per_clip": round(seconds.get("clip_track", 0.0) / count, 3) if count else None,
        "encode_s_per_clip": round(seconds.get("clip_encode", 0.0) / count, 3) if count else None,
        "jitter_px_per_frame": {
            "person_box_raw": _mean([c["jitter_px"]["raw"] for c in clips]),
            "crop_without_smoothing": _mean([c["jitter_px"]["smoothed"] for c in raw["clips"]]),
            "crop_smoothed": _mean([c["jitter_px"]["smoothed"] for c in clips]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--strip", type=Path, help="save a contact strip of three clips here")
    args = parser.parse_args()
    videos = args.videos or sorted(VIDEOS.glob("*.mp4"))
    kept: list[Path] = []
    print(json.dumps([measure(v, kept) for v in videos], indent=1))
    if args.strip is not None and kept:
        strip(kept[:: max(1, len(kept) // 3)][:3], args.strip)


if __name__ == "__main__":
    main()
