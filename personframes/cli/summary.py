"""The end-of-run summary: per video counts, fallbacks by what they are about, outputs per
category, seconds per stage. Everything fits an 80-column terminal: tables have no
vertical rules and two-line headers, a long video name wraps, numbers are never cut,
and the seconds per stage are a line per video that wraps between stages."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from ..errors import printable
from ..pipeline.batch import BatchResult
from ..pipeline.fallbacks import group_of
from ..pipeline.runner import VideoResult
from .options import version_option

# (summary key in stage_seconds, column title), in the order the work happens.
STAGES = (
    ("load_models", "models"),
    ("decode", "decode"),
    ("detect", "detect"),
    ("pose", "pose*"),
    ("analyze", "analyze"),
    ("restore", "restore"),
    ("encode", "encode"),
    ("clip_track", "clip tracking"),
    ("clip_encode", "clip encoding"),
)
POSE_NOTE = "* body pose runs on a second thread, beside decode, detect and analyze"


FALLBACK_GROUPS = ("restoration", "analysis", "decoding", "device")
FALLBACK_NOTE = (
    "fallbacks: restoration = faces written with Lanczos after the model failed; "
    "analysis = head pose from keypoints, body box from the face; decoding = frames "
    "re-read or timed by frame rate; device = CPU instead of a GPU asked for"
)


def _name(path: Path) -> str:
    return printable(path.name)


def _table(title: str, columns: tuple[str, ...], left: int) -> Table:
    """A table without vertical rules, its first ``left`` columns text (a long name
    wraps), the rest numbers (never cut or wrapped); headers may take two lines."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, column in enumerate(columns):
        if i < left:
            table.add_column(column, justify="left", overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True)
    return table


def _counts(result: BatchResult) -> Table:
    table = _table(
        "personframes summary",
        (
            "video",
            "status",
            "frames\ndecoded",
            "candidate\nframes",
            "faces\nfound",
            "files\nwritten",
            "faces\nrestored",
        ),
        left=2,
    )
    for item in result.results:
        s = item.summary
        table.add_row(
            _name(item.path),
            item.status,
            str(s.get("frames_decoded", "")),
            str(s.get("candidates", "")),
            str(s.get("faces", "")),
            str(s.get("files_written", "")),
            str(s.get("restorations", "")),
        )
    for path, _reason, _code in result.failures:
        table.add_row(_name(path), "failed", *[""] * 5)
    return table


def fallback_counts(fallbacks: dict[str, int]) -> dict[str, int]:
    """A video's counted fallbacks (``"what: reason" -> n``) summed per group."""
    totals = dict.fromkeys(FALLBACK_GROUPS, 0)
    for key, count in fallbacks.items():
        totals[group_of(key)] += count
    return totals


def _fallbacks(result: BatchResult) -> Table:
    table = _table("fallbacks (reasons below)", ("video", *FALLBACK_GROUPS), left=1)
    for item in result.results:
        totals = fallback_counts(item.summary.get("fallbacks", {}))
        table.add_row(_name(item.path), *(str(totals[g]) for g in FALLBACK_GROUPS))
    return table


def _categories(result: BatchResult) -> Table:
    table = _table("frames selected per category", ("video", "pose / head", "frames"), left=2)
    for item in result.results:
        selected: dict[str, int] = item.summary.get("selected_by_category", {})
        for category, count in sorted(selected.items()):
            table.add_row(_name(item.path), category, str(count))
    return table


def _stages(item: VideoResult) -> str:
    """One video's seconds per stage, as a line that wraps between stages."""
    seconds: dict[str, Any] = item.summary.get("stage_seconds", {})
    parts = [f"{title} {seconds[key]:.2f}" for key, title in STAGES if key in seconds]
    return f"{_name(item.path)}: {', '.join(parts)}; total {item.seconds:.2f} s"


def print_summary(result: BatchResult, console: Console | None = None) -> None:
    """Print the summary on ``console`` (default: stderr; 200 columns when it is not a
    terminal, as a log file has no reason to wrap at 80)."""
    if console is None:
        console = Console(stderr=True, highlight=False)
        if not console.is_terminal:
            console.width = 200
    _print_tables(result, console)
    for item in result.results:
        if item.status == "duplicate":
            outputs = f"; its outputs: {item.manifest}" if item.manifest else ""
            original = item.same_as or item.path
            line = f"{item.path}: the same video as {original} (processed once{outputs})"
            console.print(printable(line), markup=False)
        else:
            _print_notes(item, console)
    _print_ending(result, console)


def _print_tables(result: BatchResult, console: Console) -> None:
    """The counts, then the fallbacks, categories and seconds per stage where any video
    has them."""
    console.print(_counts(result))
    if any(item.summary.get("fallbacks") for item in result.results):
        console.print(_fallbacks(result))
        console.print(FALLBACK_NOTE)
    if any(item.summary.get("selected_by_category") for item in result.results):
        console.print(_categories(result))
    if any(item.summary.get("stage_seconds") for item in result.results):
        console.print("seconds per stage (this run):")
        for item in result.results:
            if item.status != "duplicate":
                console.print(_stages(item), markup=False)
        console.print(POSE_NOTE)


def _print_notes(item: VideoResult, console: Console) -> None:
    """One video's lines below the tables: what it found, left out, fell back on, wrote."""
    name, summary = _name(item.path), item.summary
    if summary.get("faces", 0) == 0 and not summary.get("faceless_sightings"):
        console.print(f"{name}: no people found")
    for note in NOTES:
        line = note(name, summary)
        if line:
            console.print(line, markup=False)
    for reason, count in summary.get("fallbacks", {}).items():
        console.print(f"{name}: fallback x{count}: {reason}", markup=False)
    if item.manifest is not None:
        console.print(f"{name}: wrote {item.manifest}")


Note = Callable[[str, dict[str, Any]], str]  # (video name, its summary) -> a line, or ""


def _stem_note(name: str, summary: dict[str, Any]) -> str:
    if "output_stem" not in summary:
        return ""
    return (
        f"{name}: outputs named {summary['output_stem']}_* "
        "(another video in the output folder has its name)"
    )


def _no_crop_note(name: str, summary: dict[str, Any]) -> str:
    keys = ("face_crops_too_small", "face_crops_blurred", "face_crops_turned_away")
    small, dull, away = (summary.get(k, 0) for k in keys)
    if not (small or dull or away):
        return ""
    return (
        f"{name}: no face crop for {small} small, {dull} defocused or "
        f"dark and {away} turned-away faces (--min-face-size, "
        "selection.min_face_sharpness, selection.min_profile_score)"
    )


def _identity_note(name: str, summary: dict[str, Any]) -> str:
    identity = summary.get("restoration_identity") or {}
    if not identity.get("checked"):
        return ""
    return (
        f"{name}: restored faces moved {identity['median']:.2f} (median; "
        f"max {identity['max']:.2f}) in face identity from their Lanczos resize; "
        f"{identity['drift']} replaced by it for identity drift"
    )


def _engines_note(name: str, summary: dict[str, Any]) -> str:
    engines = summary.get("restoration_engines") or {}
    ran = ", ".join(f"{count} on {engine}" for engine, count in engines.items())
    return f"{name}: faces restored {ran}" if engines else ""


def _count_note(key: str, text: str) -> Note:
    """The note for a count that has something to say where it is not 0."""

    def note(name: str, summary: dict[str, Any]) -> str:
        count = summary.get(key, 0)
        return f"{name}: {count} {text}" if count else ""

    return note


# A video's notes in the order they print.
NOTES: tuple[Note, ...] = (
    _stem_note,
    _no_crop_note,
    _count_note(
        "faceless_sightings",
        "sightings of people whose face was not found (seen from behind or turned away): "
        "frames and body crops, no face crops",
    ),
    _count_note(
        "poses_carried",
        "waist-up sightings took the pose the same person has within 10 s where the legs are seen",
    ),
    _identity_note,
    _engines_note,
    _count_note(
        "people_not_matching_reference",
        "people left out: their faces do not match the --reference-face photos, or match "
        "an --exclude-face photo",
    ),
)


def _print_ending(result: BatchResult, console: Console) -> None:
    """The failures, retries and interruption, then the totals."""
    for path, reason, _code in result.failures:
        line = f"failed: {reason}" if str(path) in reason else f"failed: {path}: {reason}"
        console.print(printable(line), markup=False)
    if result.retries:
        runs = "run" if result.retries == 1 else "runs"
        console.print(
            f"worker deaths: {result.retries} video {runs} repeated on another worker (--retries)"
        )
    if result.interrupted is not None:
        console.print(f"interrupted: {result.interrupted}. Run the same command again to resume.")
    done = sum(1 for r in result.results if r.status == "done")
    skipped = sum(1 for r in result.results if r.status == "skipped")
    twins = sum(1 for r in result.results if r.status == "duplicate")
    same = f", {twins} {'duplicate' if twins == 1 else 'duplicates'}" if twins else ""
    others = f", {result.other_shards} left to the other shards" if result.other_shards else ""
    console.print(
        f"{done} done, {skipped} skipped{same}, {len(result.failures)} failed{others}"
        + (f" in {result.seconds:.1f} s" if result.seconds else "")
    )


@click.command("summary")
@click.argument("output_dir", type=click.Path(path_type=Path))
@version_option
def summary(output_dir: Path) -> None:
    """Summarise every video processed into OUTPUT_DIR (by any number of runs, shards or
    Ray workers), from each video's saved state. Exit 1 while some are not finished."""
    from ..pipeline.folder import prepare_output_folder
    from ..pipeline.folder_summary import folder_summary
    from ..state.review import check_output_folder

    if output_dir.is_dir():
        prepare_output_folder(output_dir)  # the state of an earlier version, moved over
    check_output_folder(output_dir)
    found = folder_summary(output_dir)
    print_summary(found.result)
    for name, step in found.unfinished:
        click.echo(f"not finished: {printable(name)} (in step {step})", err=True)
    if found.unfinished:
        click.echo(
            f"{len(found.unfinished)} videos not finished: run the same extract again "
            "(or the shards that hold them) to finish them",
            err=True,
        )
    sys.exit(1 if found.unfinished or found.result.failures else 0)
