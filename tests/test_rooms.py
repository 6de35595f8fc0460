"""The big rooms split (issue 29): the summary's lines below the tables, every one of
them, word for word and in order; and the Ray executor's modules import without Ray."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from personframes.cli.summary import POSE_NOTE, print_summary
from personframes.errors import Interrupted
from personframes.pipeline.batch import BatchResult
from personframes.pipeline.runner import VideoResult

EVERY_NOTE = {
    "faces": 4,
    "output_stem": "clip_2",
    "face_crops_too_small": 1,
    "face_crops_blurred": 2,
    "face_crops_turned_away": 3,
    "faceless_sightings": 5,
    "poses_carried": 6,
    "restoration_identity": {"checked": 9, "median": 0.071, "max": 0.166, "drift": 1},
    "restoration_engines": {"ncnn fp32": 7, "onnxruntime fp32": 2},
    "people_not_matching_reference": 8,
    "fallbacks": {"head pose: face mesh not confident": 11},
    "stage_seconds": {"decode": 2.5},
}


def _lines_below_the_tables(result: BatchResult) -> list[str]:
    console = Console(width=200, record=True, highlight=False, file=io.StringIO())
    print_summary(result, console)
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    return lines[lines.index(POSE_NOTE) + 1 :]


def test_every_note_prints_word_for_word_in_its_order() -> None:
    result = BatchResult(
        results=[
            VideoResult(Path("clip.mp4"), "done", EVERY_NOTE, 3.0, Path("out/clip_info.json")),
            VideoResult(Path("empty.mp4"), "done", {"faces": 0}),
            VideoResult(
                Path("copy.mp4"),
                "duplicate",
                {},
                manifest=Path("out/clip_info.json"),
                same_as=Path("clip.mp4"),
            ),
        ],
        failures=[(Path("bad.mp4"), "bad.mp4: video ends early", 2)],
        interrupted=Interrupted("stopped by SIGINT; progress saved", 130),
        retries=1,
        other_shards=2,
        seconds=12.25,
    )
    assert _lines_below_the_tables(result) == [
        "clip.mp4: outputs named clip_2_* (another video in the output folder has its name)",
        "clip.mp4: no face crop for 1 small, 2 defocused or dark and 3 turned-away faces "
        "(--min-face-size, selection.min_face_sharpness, selection.min_profile_score)",
        "clip.mp4: 5 sightings of people whose face was not found (seen from behind or "
        "turned away): frames and body crops, no face crops",
        "clip.mp4: 6 waist-up sightings took the pose the same person has within 10 s "
        "where the legs are seen",
        "clip.mp4: restored faces moved 0.07 (median; max 0.17) in face identity from "
        "their Lanczos resize; 1 replaced by it for identity drift",
        "clip.mp4: faces restored 7 on ncnn fp32, 2 on onnxruntime fp32",
        "clip.mp4: 8 people left out: their faces do not match the --reference-face "
        "photos, or match an --exclude-face photo",
        "clip.mp4: fallback x11: head pose: face mesh not confident",
        "clip.mp4: wrote out/clip_info.json",
        "empty.mp4: no people found",
        "copy.mp4: the same video as clip.mp4 (processed once; its outputs: out/clip_info.json)",
        "failed: bad.mp4: video ends early",
        "worker deaths: 1 video run repeated on another worker (--retries)",
        "interrupted: stopped by SIGINT; progress saved. Run the same command again to resume.",
        "2 done, 0 skipped, 1 duplicate, 1 failed, 2 left to the other shards in 12.2 s",
    ]


def test_the_ray_executor_imports_without_ray() -> None:
    """``--executor ray`` says how to install Ray (tests/test_ray.py) only because its
    modules import without it: the actor, the pool and the dispatch loop."""
    code = (
        "import sys\n"
        "import personframes.pipeline.ray_dispatch, personframes.pipeline.ray_pool\n"
        "import personframes.pipeline.ray_actor\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
