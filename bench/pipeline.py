"""Pipeline benchmark: seconds per stage, real-time factor, peak RSS, decode floor.

Prints one JSON document on stdout. Each scenario runs in its own process so
its peak RSS is its own:

    python bench/pipeline.py                 # both shared videos, with and without restoration
    python bench/pipeline.py --4k            # also a 60 s 4K video made with PyAV's encoder

Targets: real-time factor (processing seconds / video seconds) <= 0.5 without
face restoration; peak RSS <= 2 GB on the 4K video; with restoration, the restore
stage's seconds per restored face <= 1.15x the warm engine's on the same input sizes
(``restore_vs_engine``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from personframes.restore.loading import engine as load_engine

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"


def plain_decode_fps(video: Path) -> float:
    """PyAV's own decode of every frame, the floor for our decode stage."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        started = time.perf_counter()
        count = sum(1 for _ in container.decode(stream))
    return count / (time.perf_counter() - started)


def run_one(video: Path, restore: bool) -> dict[str, Any]:
    """One scenario in this process (called in a child process)."""
    from personframes.config import load_config
    from personframes.models.session import ModelSession
    from personframes.pipeline.context import StopFlag
    from personframes.pipeline.runner import process_video

    with tempfile.TemporaryDirectory() as out:
        config = load_config(
            None,
            {"output": {"output_dir": out, "face_restoration": restore}},
            environ={},
        )
        session = ModelSession(config.models.cache_dir)
        started = time.perf_counter()
        result = process_video(video, config, session, StopFlag())
        seconds = time.perf_counter() - started
        restore_s = result.summary["stage_seconds"].get("restore", 0.0)
        info_path = Path(out) / f"{video.stem}_info.json"
        overhead = restore_overhead(info_path, session, config, restore_s)
    duration = result.summary.get("video_duration_s") or _duration(video)
    # "pose" runs on a worker thread beside "decode", "detect" and "analyze", so the
    # stages add up to more than "step:scan".
    stages = dict(result.summary["stage_seconds"])
    frames = result.summary["frames_decoded"]
    return {
        "video": video.name,
        "face_restoration": restore,
        "seconds": round(seconds, 3),
        "video_seconds": round(duration, 3),
        "real_time_factor": round(seconds / duration, 3),
        "stage_seconds": stages,
        "frames_decoded": frames,
        "decode_fps_in_pipeline": round(frames / max(stages["decode"], 1e-9), 1),
        "plain_pyav_decode_fps": round(plain_decode_fps(video), 1),
        "files_written": result.summary["files_written"],
        "restorations": result.summary.get("restorations", 0),
        "restoration_engines": result.summary.get("restoration_engines", {}),
        "restore_vs_engine": overhead,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def restore_overhead(
    info_path: Path, session: Any, config: Any, stage: float
) -> dict[str, Any] | None:
    """Seconds per restored face in the pipeline's restore stage (policy, model,
    resizes, blend, identity check; faces left to Lanczos included) against the warm
    engine alone on inputs of the same sizes, measured after the run in this process."""
    import numpy as np

    from personframes.restore.engine_choice import sample_face

    if not info_path.is_file():
        return None
    info = json.loads(info_path.read_text())
    records = [o["restoration"] for o in info["outputs"] if o.get("restoration")]
    restored = [r for r in records if r["restored"]]
    if not restored:
        return None
    m = config.models
    engine = load_engine(
        session, config.output.face_restoration_model, m.device, m.restore_engine, m.precision
    )
    engine_s = 0.0
    for record in restored:
        w, h = record["model_input"]
        crop = np.ascontiguousarray(sample_face(max(w, h))[:h, :w])
        start = time.perf_counter()
        engine.run(crop)
        engine_s += time.perf_counter() - start
    return {
        "faces_restored": len(restored),
        "crops_seen": len(records),
        "restore_stage_s": stage,
        "engine_warm_s": round(engine_s, 3),
        "per_face_over_engine": round(stage / engine_s, 3),
        "engine": f"{engine.NAME} {engine.precision}",
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory.

    Linux's ``ru_maxrss`` carries over the parent's peak into a child it starts
    (the high-water mark survives exec), which here would count the 4K video's
    making in the parent; ``VmHWM`` belongs to this process's own memory map.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _duration(video: Path) -> float:
    from personframes.video.decode import VideoReader

    with VideoReader(video) as reader:
        return reader.info.duration_s


def make_4k(path: Path, seconds: int = 60, rate: int = 30) -> Path:
    """A 3840x2160 H.264 video of the shared stage video, upscaled and looped."""
    import av
    import numpy as np
    from PIL import Image

    with av.open(str(VIDEOS / "stage_performer.mp4")) as source:
        small = [f.to_ndarray(format="rgb24") for f in source.decode(video=0)][::3]
    big = [
        np.asarray(Image.fromarray(f).resize((3840, 2160), Image.Resampling.BILINEAR))
        for f in small
    ]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(
            "libx264", rate=rate, options={"preset": "ultrafast", "crf": "28"}
        )
        stream.width, stream.height, stream.pix_fmt = 3840, 2160, "yuv420p"
        for i in range(seconds * rate):
            frame = av.VideoFrame.from_ndarray(big[(i // 3) % len(big)], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def child(video: Path, restore: bool) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(video)] + (["--restore"] if restore else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"video": video.name, "face_restoration": restore, "error": done.stderr[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--restore", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--4k", dest="four_k", action="store_true", help="add a 60 s 4K video")
    parser.add_argument("--no-restore", action="store_true", help="skip the restoration runs")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.restore)))
        return
    results = []
    for video in sorted(VIDEOS.glob("*.mp4")):
        for restore in (False,) if args.no_restore else (False, True):
            results.append(child(video, restore))
            print(json.dumps(results[-1]), file=sys.stderr)
    if args.four_k:
        with tempfile.TemporaryDirectory() as tmp:
            video = make_4k(Path(tmp) / "synthetic_4k_60s.mp4")
            results.append(child(video, False))
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"benchmark": "pipeline", "results": results}, indent=2))


if __name__ == "__main__":
    main()
