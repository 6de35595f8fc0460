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
from pathlib import Path
from types import FrameType
from typing import Any

from ..config import Config
from ..cores import set_workers
from ..errors import InputError, Interrupted
from ..logs import setup_logging
from ..models.bundled import BUNDLED_SHA256, bundled_path
from ..models.session import ModelSession
from ..output.naming import safe_stem
from ..output.writer import check_output_dir
from ..restore.engine_choice import adopt_measured, measured_choices
from ..state.index import in_shard
from ..video.decode import VIDEO_EXTENSIONS
from .context import StopFlag
from .duplicates import same_content
from .folder import prepare_output_folder
from .outcome import (
    BatchResult,
    Display,
    Executor,
    Outcome,
    process_or_fail,
    record,
    record_duplicates,
)
from .reference import load_reference_faces
from .runner import output_dir_for

log = logging.getLogger(__name__)


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


def _worker_run(video: Path, preferred: str) -> Outcome:
    state = _worker_state
    return process_or_fail(
        video, state["config"], state["sessions"], state["stop"], None, preferred
    )


def run_serial(
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
        record(result, process_or_fail(video, config, sessions, stop, display, stem))


def run_parallel(
    videos: dict[Path, str],
    config: Config,
    sessions: ModelSession,
    stop: StopFlag,
    result: BatchResult,
    display: Display | None,
) -> None:
    """``--workers N``: the videos shared out among N worker processes, each with its
    share of the cores (``sessions`` and ``display`` stay in this process)."""
    del sessions, display
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
                record(result, future.result())
            except Interrupted as exc:
                interrupted = exc
    if interrupted is not None:
        raise interrupted


def executor(config: Config, videos: int) -> Executor:
    """The executor a run takes: Ray when asked, worker processes for several videos with
    ``--workers``, else one video after another here."""
    if config.pipeline.executor == "ray":
        from .ray_dispatch import run_on_ray  # the ray extra; imported only when asked

        return run_on_ray
    return run_parallel if config.pipeline.workers > 1 and videos > 1 else run_serial


def check_models(config: Config, sessions: ModelSession) -> None:
    """Every bundled model file (the detectors, face mesh, pose and identity models) and,
    when faces are restored, the restoration model's files: ModelError naming the file
    and the repair command when one is missing or damaged."""
    for name in sorted(BUNDLED_SHA256):
        bundled_path(name)  # SHA-256 checked once per process
    out = config.output
    if out.face_restoration and out.face_restoration_strength > 0:
        sessions.model_files(out.face_restoration_model)


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
    # The model files the run needs, checked before any output folder is touched: a
    # damaged one stops the run with its repair command and leaves nothing behind.
    sessions = ModelSession(config.models.cache_dir)
    check_models(config, sessions)
    # Once, before any worker starts: temporary files a killed run left, and the check
    # of each folder's state database.
    for folder in sorted({output_dir_for(video, config) for video in videos}):
        prepare_output_folder(folder)
    # Reference photos that are not images or show no face fail the run, before any work.
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
            executor(config, len(stems))(stems, config, sessions, stop, result, display)
        except Interrupted as exc:
            result.interrupted = exc
        finally:
            record_duplicates(result, twins)
    result.seconds = time.perf_counter() - started
    return result
