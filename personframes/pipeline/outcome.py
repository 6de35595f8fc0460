"""What one video's run comes to, and how executors report it: the serial, process-pool
(:mod:`.batch`) and Ray (:mod:`.ray_dispatch`) executors all run videos through
:func:`process_or_fail` and keep the outcomes in a :class:`BatchResult` with
:func:`record`; each is an :class:`Executor`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..config import Config
from ..errors import Interrupted, PersonframesError, debug_enabled
from ..models.session import ModelSession
from .context import StopFlag
from .runner import VideoResult, process_video

log = logging.getLogger(__name__)

Failure = tuple[Path, str, int]  # the video, the one-line reason, the exit code
Outcome = VideoResult | Failure


class Display(Protocol):
    """Shows a run's progress (one video at a time)."""

    def start_video(self, name: str, number: int, count: int) -> None: ...

    def update(self, step: str, done: int, total: int | None) -> None: ...


@dataclass
class BatchResult:
    results: list[VideoResult] = field(default_factory=list)
    failures: list[tuple[Path, str, int]] = field(default_factory=list)  # path, reason, exit code
    interrupted: Interrupted | None = None
    seconds: float = 0.0
    other_shards: int = 0  # videos of the batch left to the other shards (--shard)
    retries: int = 0  # videos run again after their worker died (--executor ray)


class Executor(Protocol):
    """Runs the videos of a batch (each with its output stem), recording each outcome in
    ``result``; an interrupt propagates as :class:`Interrupted` once progress is saved."""

    def __call__(
        self,
        videos: dict[Path, str],
        config: Config,
        sessions: ModelSession,
        stop: StopFlag,
        result: BatchResult,
        display: Display | None,
        /,
    ) -> None: ...


def process_or_fail(
    video: Path,
    config: Config,
    sessions: ModelSession,
    stop: StopFlag,
    display: Display | None,
    preferred: str = "",
) -> VideoResult | tuple[Path, str, int]:
    """Process one video; a PersonframesError becomes a failure entry (Interrupted propagates)."""
    try:
        return process_video(
            video, config, sessions, stop, display.update if display else None, preferred
        )
    except Interrupted:
        raise
    except PersonframesError as exc:
        if debug_enabled():
            raise
        return (video, str(exc), exc.exit_code)


def record(result: BatchResult, outcome: VideoResult | tuple[Path, str, int]) -> None:
    if isinstance(outcome, VideoResult):
        if outcome.status == "skipped":
            log.info("%s: already done (outputs in place); skipped", outcome.path.name)
        elif outcome.status == "duplicate":
            log.info("%s: the same video as %s; processed once", outcome.path, outcome.same_as)
        result.results.append(outcome)
    else:
        result.failures.append(outcome)


def record_duplicates(result: BatchResult, twins: dict[Path, Path]) -> None:
    """Each duplicate as its original went: done or skipped (a ``duplicate`` with the
    original's outputs), or failed; nothing for one whose original did not finish."""
    finished = {item.path: item for item in result.results}
    failed = {path: (reason, code) for path, reason, code in result.failures}
    for video, original in twins.items():
        if original in finished:
            manifest = finished[original].manifest
            record(result, VideoResult(video, "duplicate", manifest=manifest, same_as=original))
        elif original in failed:
            reason, code = failed[original]
            record(result, (video, f"{video}: the same video as {original} ({reason})", code))
