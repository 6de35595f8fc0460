"""Many videos in one run: expand inputs, process each, keep going after failures."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from .config import Config
from .errors import InputError, Interrupted, PersonframesError, debug_enabled
from .output.writer import ensure_output_dir
from .pipeline.context import StopFlag
from .pipeline.runner import VideoResult, process_video
from .pipeline.sessions import Sessions
from .progress import ProgressDisplay
from .video.decode import VIDEO_EXTENSIONS

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    results: list[VideoResult] = field(default_factory=list)
    failures: list[tuple[Path, str, int]] = field(default_factory=list)  # path, reason, exit code
    interrupted: Interrupted | None = None
    seconds: float = 0.0


def expand_inputs(inputs: list[Path]) -> tuple[list[Path], list[tuple[Path, str, int]]]:
    """Files as given; folders searched recursively for video extensions."""
    videos: list[Path] = []
    problems: list[tuple[Path, str, int]] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(
                p for p in item.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()
            )
            if not found:
                problems.append((item, f"{item}: directory contains no video files", 2))
            videos.extend(found)
        else:
            videos.append(item)
    unique = list(dict.fromkeys(p.resolve() if p.exists() else p for p in videos))
    return unique, problems


@contextmanager
def stop_on_signals(stop: StopFlag) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop``; the steps finish the current frame, save, and stop."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second signal: stop now
            raise KeyboardInterrupt
        stop.set(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_batch(inputs: list[Path], config: Config) -> BatchResult:
    started = time.perf_counter()
    result = BatchResult()
    if config.output.output_dir is not None:
        ensure_output_dir(config.output.output_dir)
    videos, problems = expand_inputs(inputs)
    result.failures.extend(problems)
    if not videos and not problems:
        raise InputError("no input videos given")
    sessions = Sessions()
    stop = StopFlag()
    with stop_on_signals(stop), ProgressDisplay(enabled=not config.logging.quiet) as display:
        for number, video in enumerate(videos, 1):
            display.start_video(video.name, number, len(videos))
            try:
                outcome = process_video(video, config, sessions, stop, display.update)
            except Interrupted as exc:
                result.interrupted = exc
                break
            except PersonframesError as exc:
                if debug_enabled():
                    raise
                result.failures.append((video, str(exc), exc.exit_code))
                continue
            if outcome.status == "skipped":
                log.info("%s: already done (outputs in place); skipped", video.name)
            result.results.append(outcome)
    result.seconds = time.perf_counter() - started
    return result
