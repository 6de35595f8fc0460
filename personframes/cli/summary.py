"""The end-of-run summary: per video counts, outputs per category, seconds per stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..errors import printable
from ..pipeline.batch import BatchResult

# (summary key in stage_seconds, column title), in the order the work happens.
STAGES = (
    ("load_models", "models"),
    ("decode", "decode"),
    ("detect", "detect"),
    ("pose", "pose*"),
    ("analyze", "analyze"),
    ("restore", "restore"),
    ("encode", "encode"),
)
POSE_NOTE = "* body pose runs on a second thread, beside decode, detect and analyze"


def _name(path: Path) -> str:
    return printable(path.name)


def _table(title: str, columns: tuple[str, ...], left: int) -> Table:
    """A table whose first ``left`` columns are text, the rest numbers; nothing is cut."""
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < left else "right", no_wrap=True)
    return table


def _counts(result: BatchResult) -> Table:
    table = _table(
        "personframes summary",
        ("video", "status", "decoded", "candidates", "faces", "written", "restored", "fallbacks"),
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
            str(sum(s.get("fallbacks", {}).values())),
        )
    for path, _reason, _code in result.failures:
        table.add_row(_name(path), "failed", *[""] * 6)
    return table


def _categories(result: BatchResult) -> Table:
    table = _table("frames selected per category", ("video", "pose / head", "frames"), left=2)
    for item in result.results:
        selected: dict[str, int] = item.summary.get("selected_by_category", {})
        for category, count in sorted(selected.items()):
            table.add_row(_name(item.path), category, str(count))
    return table


def _stages(result: BatchResult) -> Table:
    columns = ("video", *(title for _, title in STAGES), "total")
    table = _table("seconds per stage (this run)", columns, left=1)
    for item in result.results:
        seconds: dict[str, Any] = item.summary.get("stage_seconds", {})
        cells = [f"{seconds[key]:.2f}" if key in seconds else "" for key, _ in STAGES]
        table.add_row(_name(item.path), *cells, f"{item.seconds:.2f}")
    return table


def print_summary(result: BatchResult) -> None:
    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:  # a log file or a pipe: no reason to cut at 80 columns
        console.width = 200
    console.print(_counts(result))
    if any(item.summary.get("selected_by_category") for item in result.results):
        console.print(_categories(result))
    if result.results:
        console.print(_stages(result))
        console.print(POSE_NOTE)
    for item in result.results:
        if item.summary.get("faces", 0) == 0:
            console.print(f"{_name(item.path)}: no people found")
        if "output_stem" in item.summary:
            console.print(
                f"{_name(item.path)}: outputs named {item.summary['output_stem']}_* "
                "(another video in the output folder has its name)",
                markup=False,
            )
        for reason, count in item.summary.get("fallbacks", {}).items():
            console.print(f"{_name(item.path)}: fallback x{count}: {reason}")
        if item.manifest is not None:
            console.print(f"{_name(item.path)}: wrote {item.manifest}")
    for path, reason, _code in result.failures:
        line = f"failed: {reason}" if str(path) in reason else f"failed: {path}: {reason}"
        console.print(printable(line), markup=False)
    if result.interrupted is not None:
        console.print(f"interrupted: {result.interrupted}. Run the same command again to resume.")
    done = sum(1 for r in result.results if r.status == "done")
    skipped = sum(1 for r in result.results if r.status == "skipped")
    console.print(
        f"{done} done, {skipped} skipped, {len(result.failures)} failed in {result.seconds:.1f} s"
    )
