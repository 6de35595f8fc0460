"""The run summary fits an 80-column terminal and says what each count is."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from personframes.cli.summary import fallback_counts, print_summary
from personframes.pipeline.batch import BatchResult
from personframes.pipeline.runner import VideoResult

LONG = "a_rather_long_video_name_from_a_phone_camera_2026-11-22.mp4"
FALLBACKS = {
    "face restoration: ncnn failed on a 96x96 input: out of memory": 2,
    "head pose: face mesh not confident (e.g. a profile), angles from detector keypoints": 17,
    "body crop: no body landmarks, region estimated from face": 3,
    "video timestamps: frames without pts, timed from the frame rate": 1234,
    "device: centerface: GPU requested but no CUDA; running on the CPU": 1,
}


def _result() -> BatchResult:
    summary = {
        "frames_decoded": 123456,
        "candidates": 98765,
        "faces": 43210,
        "files_written": 5432,
        "restorations": 1987,
        "fallbacks": FALLBACKS,
        "selected_by_category": {"standing/front": 5, "sitting/profile_left": 3},
        "stage_seconds": {
            "load_models": 1.25,
            "decode": 301.5,
            "detect": 222.75,
            "pose": 99.5,
            "analyze": 12.25,
            "restore": 4321.5,
            "encode": 10.0,
        },
    }
    return BatchResult(
        results=[
            VideoResult(Path(LONG), "done", summary, seconds=4969.0),
            VideoResult(Path("b.mp4"), "skipped", {"faces": 0}, seconds=0.5),
        ],
        failures=[(Path("broken.mp4"), "broken.mp4: video ends early", 2)],
        seconds=4970.0,
    )


def _printed(width: int) -> str:
    console = Console(width=width, record=True, highlight=False)
    print_summary(_result(), console)
    return console.export_text()


def test_summary_fits_80_columns_and_cuts_no_number() -> None:
    text = _printed(80)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "…" not in text and "..." not in text
    numbers = set(re.findall(r"\d+(?:\.\d+)?", text))
    for total in ("123456", "98765", "43210", "5432", "1987", "4321.50", "4969.00", "1234"):
        assert total in numbers, total
    assert LONG.replace("_", "") in "".join(text.split()).replace("_", "")  # folded, whole


def test_fallback_columns_say_what_they_count() -> None:
    assert fallback_counts(FALLBACKS) == {
        "restoration": 2,
        "analysis": 20,
        "decoding": 1234,
        "device": 1,
    }
    text = _printed(80)
    header = next(line for line in text.splitlines() if "restoration" in line)
    assert header.split() == ["video", "restoration", "analysis", "decoding", "device"]
