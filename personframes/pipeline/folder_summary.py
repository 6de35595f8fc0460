"""One summary of every video processed into an output folder, from the videos' own
state databases: what ``personframes summary OUT`` prints after shards or Ray workers
(each of which summarised only its own videos) are done."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StateError
from ..output.naming import manifest_name
from ..state.index import FolderIndex
from ..state.records import SUMMARY_KEY, RunSummary
from ..state.video import VideoState
from .batch import BatchResult
from .runner import VideoResult
from .steps import STEPS


@dataclass
class FolderSummary:
    result: BatchResult  # the finished videos, as a run's summary shows them
    unfinished: list[tuple[str, str]] = field(default_factory=list)  # (video, step under way)


def folder_summary(output_dir: Path) -> FolderSummary:
    """Every video with state in ``output_dir``: finished ones with their summary (the
    manifest step's record), and those not finished with the step they stopped in."""
    index = FolderIndex(output_dir)
    summary = FolderSummary(BatchResult())
    for key in index.videos():
        stem = index.stem_of(key)
        video = Path(index.path_of(key) or stem or key)
        try:
            store = VideoState(output_dir, key, create=False)
        except StateError as exc:
            summary.result.failures.append((video, f"state not readable ({exc})", 1))
            continue
        try:
            done = store.steps_done()
            if stem is not None and all(done.get(step.NAME) for step in STEPS):
                record = store.load_one("manifest", SUMMARY_KEY, RunSummary).model_dump()
                summary.result.results.append(
                    VideoResult(video, "done", record, manifest=output_dir / manifest_name(stem))
                )
            else:
                step = next((s.NAME for s in STEPS if not done.get(s.NAME)), "manifest")
                summary.unfinished.append((video.name, step))
        finally:
            store.close()
    summary.result.results.sort(key=lambda r: str(r.path))
    return summary
