"""Many videos in one run: expand inputs, process each, keep going after failures.

``run_batch`` is the library's entry to the pipeline (the ``extract`` command calls it);
the caller may pass a ``Display`` that shows progress (the CLI's progress bar).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from ..config import Config
from ..cores import set_workers
from ..errors import InputError, Interrupted, PersonframesError, debug_enabled
from ..logs import setup_logging
from ..models.session import ModelSession
from ..output.naming import safe_stem
from ..output.writer import check_output_dir
from ..restore.engine_choice import adopt_measured, measured_choices
from ..state.index import in_shard
from ..video.decode import VIDEO_EXTENSIONS
from .context import StopFlag
from .duplicates import same_content
from .folder import prepare_output_folder
from .reference import load_reference_faces
from .runner import VideoResult, output_dir_for, process_video

log = logging.getLogger(__name__)


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


def preferred_stems(videos: list[Path]) -> dict[Path, str]:
    """Each video's output stem as the batch would give it in a fresh folder: its file
    name, with ``-2``, ``-3``... for later videos of the same (case-folded) name. Every
    shard lists the whole batch, so they all agree; a video that already holds a stem
    in the folder keeps it (``FolderIndex.claim_stem``)."""
    taken: set[str] = set()
    stems: dict[Path, str] = {}
    for video in videos:
        wanted = stem = safe_stem(video.stem)
        number = 1
        while stem.casefold() in taken:
            number += 1
            stem = f"{wanted}-{number}"
        taken.add(stem.casefold())
        stems[video] = stem
    return stems


def _process_or_fail(
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


# -- worker processes (--workers N) ---------------------------------------------------------
_worker_state: dict[str, Any] = {}


def _worker_init(
    shared_stop: Any, shared_signum: Any, config_json: str, processes: int, measured: Any
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent relays signals via shared_stop
    config = Config.model_validate_json(config_json)
    setup_logging(config.logging)
    set_workers(processes)  # each worker's engines take their share of the cores
    adopt_measured(measured)  # the engine choice the parent measured for that share
    _worker_state.update(
        config=config,
        sessions=ModelSession(config.models.cache_dir),
        stop=StopFlag(shared_stop, shared_signum),
    )


def _worker_run(video: Path, preferred: str) -> VideoResult | tuple[Path, str, int]:
    state = _worker_state
    return _process_or_fail(
        video, state["config"], state["sessions"], state["stop"], None, preferred
    )


def _record(result: BatchResult, outcome: VideoResult | tuple[Path, str, int]) -> None:
    if isinstance(outcome, VideoResult):
        if outcome.status == "skipped":
            log.info("%s: already done (outputs in place); skipped", outcome.path.name)
        elif outcome.status == "duplicate":
            log.info("%s: the same video as %s; processed once", outcome.path, outcome.same_as)
        result.results.append(outcome)
    else:
        result.failures.append(outcome)


def _record_duplicates(result: BatchResult, twins: dict[Path, Path]) -> None:
    """Each duplicate as its original went: done or skipped (a ``duplicate`` with the
    original's outputs), or failed; nothing for one whose original did not finish."""
    finished = {item.path: item for item in result.results}
    failed = {path: (reason, code) for path, reason, code in result.failures}
    for video, original in twins.items():
        if original in finished:
            manifest = finished[original].manifest
            _record(result, VideoResult(video, "duplicate", manifest=manifest, same_as=original))
        elif original in failed:
            reason, code = failed[original]
            _record(result, (video, f"{video}: the same video as {original} ({reason})", code))


def _run_serial(
    videos: dict[Path, str],
    config: Config,
    sessions: ModelSession,
    stop: StopFlag,
    result: BatchResult,
    display: Display | None,
) -> None:
    for number, (video, stem) in enumerate(videos.items(), 1):
        if display is not None:
            display.start_video(video.name, number, len(videos))
        _record(result, _process_or_fail(video, config, sessions, stop, display, stem))


def _run_parallel(
    videos: dict[Path, str], config: Config, stop: StopFlag, result: BatchResult
) -> None:
    context = multiprocessing.get_context("spawn")
    shared_stop, shared_signum = context.Event(), context.Value("i", 0)
    stop.attach(shared_stop, shared_signum)
    interrupted: Interrupted | None = None
    processes = min(config.pipeline.workers, len(videos))
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=context,
        initializer=_worker_init,
        initargs=(
            shared_stop,
            shared_signum,
            config.model_dump_json(),
            processes,
            measured_choices(),
        ),
    ) as pool:
        futures = {pool.submit(_worker_run, video, stem): video for video, stem in videos.items()}
        for future in as_completed(futures):
            try:
                _record(result, future.result())
            except Interrupted as exc:
                interrupted = exc
    if interrupted is not None:
        raise interrupted


def run_batch(inputs: list[Path], config: Config, display: Display | None = None) -> BatchResult:
    """Process every video of ``inputs`` (files or folders); failures are collected, not
    raised (an interrupt ends the batch with ``interrupted`` set)."""
    started = time.perf_counter()
    result = BatchResult()
    if config.output.output_dir is not None:
        check_output_dir(config.output.output_dir)
    listed, problems = expand_inputs(inputs)
    result.failures.extend(problems)
    if not listed and not problems:
        raise InputError("no input videos given")
    stems = preferred_stems(listed)
    shard = config.pipeline.shard_of()
    if shard is not None:
        stems = {video: stem for video, stem in stems.items() if in_shard(video, shard)}
        result.other_shards = len(listed) - len(stems)
        log.info(
            "shard %d/%d: %d of the %d videos (the others are the other shards')",
            *shard,
            len(stems),
            len(listed),
        )
    videos = list(stems)
    # The batch's own duplicates (links or copies of one video) run once: side by side,
    # all but one would find that one holding the video's lock.
    twins = same_content(videos, lambda video: output_dir_for(video, config))
    stems = {video: stem for video, stem in stems.items() if video not in twins}
    # Once, before any worker starts: temporary files a killed run left, and the check
    # of each folder's state database.
    for folder in sorted({output_dir_for(video, config) for video in videos}):
        prepare_output_folder(folder)
    # Reference photos that are not images or show no face fail the run, before any work.
    sessions = ModelSession(config.models.cache_dir)
    references = load_reference_faces(config, sessions)
    if references.active:
        log.info(
            "keeping people whose faces lie within %.2f (median identity distance) of %d "
            "reference photos and not within it of %d excluded ones",
            config.selection.reference_distance,
            len(references.include),
            len(references.exclude),
        )
    stop = StopFlag()
    with stop_on_signals(stop):
        try:
            if config.pipeline.executor == "ray":
                from .ray_pool import run_on_ray  # the ray extra; imported only when asked

                run_on_ray(stems, config, sessions, stop, result, display)
            elif config.pipeline.workers > 1 and len(stems) > 1:
                _run_parallel(stems, config, stop, result)
            else:
                _run_serial(stems, config, sessions, stop, result, display)
        except Interrupted as exc:
            result.interrupted = exc
        finally:
            _record_duplicates(result, twins)
    result.seconds = time.perf_counter() - started
    return result
