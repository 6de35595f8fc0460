"""The end-of-run summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .batch import BatchResult


def print_summary(result: BatchResult) -> None:
    console = Console(stderr=True, highlight=False)
    table = Table(title="personframes summary", show_lines=False)
    for column in (
        "video",
        "status",
        "decoded",
        "candidates",
        "faces",
        "written",
        "fallbacks",
        "s",
    ):
        table.add_column(column, justify="right" if column not in ("video", "status") else "left")
    for item in result.results:
        s = item.summary
        table.add_row(
            item.path.name,
            item.status,
            str(s.get("frames_decoded", "")),
            str(s.get("candidates", "")),
            str(s.get("faces", "")),
            str(s.get("files_written", "")),
            str(sum(s.get("fallbacks", {}).values())),
            f"{item.seconds:.1f}",
        )
    for path, _reason, _code in result.failures:
        table.add_row(path.name, "failed", "", "", "", "", "", "")
    console.print(table)
    for item in result.results:
        if item.summary.get("faces", 0) == 0:
            console.print(f"{item.path.name}: no people found")
        for reason, count in item.summary.get("fallbacks", {}).items():
            console.print(f"{item.path.name}: fallback x{count}: {reason}")
        if item.manifest is not None:
            console.print(f"{item.path.name}: wrote {item.manifest}")
    for path, reason, _code in result.failures:
        console.print(f"failed: {path}: {reason}")
    if result.interrupted is not None:
        console.print(f"interrupted: {result.interrupted}. Run the same command again to resume.")
    done = sum(1 for r in result.results if r.status == "done")
    skipped = sum(1 for r in result.results if r.status == "skipped")
    console.print(
        f"{done} done, {skipped} skipped, {len(result.failures)} failed in {result.seconds:.1f} s"
    )
