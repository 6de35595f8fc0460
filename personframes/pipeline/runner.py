"""Runs the steps of one video in order, resuming from the state store."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import Config
from ..errors import InputError, StateError
from ..models.session import ModelSession
from ..output.naming import safe_stem
from ..output.writer import ensure_output_dir
from ..state.index import FolderIndex
from ..state.locks import folder_lock, video_lock
from ..state.records import SUMMARY_KEY, RunSummary
from ..state.video import STATE_FILENAME, VideoState, set_aside, video_folder
from ..video.decode import probe_video
from .context import ProgressFn, RunContext, StopFlag
from .folder import remove_fresh_state
from .steps import STEPS, Step, manifest_name

log = logging.getLogger(__name__)


@dataclass
class VideoResult:
    """A video processed (``done``), found already done (``skipped``), or the same video
    as another of its batch (``duplicate``: ``same_as`` holds the outputs of both); a
    failure is an exception, reported by the batch."""

    path: Path
    status: Literal["done", "skipped", "duplicate"]
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    manifest: Path | None = None
    same_as: Path | None = None


def step_hashes(config: Config) -> dict[str, str]:
    """Each step's config hash, chained so a change reruns that step and all after it."""
    hashes: dict[str, str] = {}
    upstream = ""
    for step in STEPS:
        blob = f"{upstream}|{step.NAME}|{step.VERSION}|{config.section_hash(*step.SECTIONS)}"
        upstream = hashlib.sha256(blob.encode()).hexdigest()[:16]
        hashes[step.NAME] = upstream
    return hashes


def output_dir_for(video: Path, config: Config) -> Path:
    return config.output.output_dir if config.output.output_dir is not None else video.parent


def claim_stem(index: FolderIndex, video_key: str, video: Path, preferred: str = "") -> str:
    """The video's output stem in this folder; a renamed one is said at WARNING."""
    wanted = safe_stem(video.stem)
    stem = index.claim_stem(video_key, video, wanted, preferred)
    if stem != wanted:
        holder = index.holder_of(wanted) or "another video"
        log.warning(
            "%s: outputs named %s_* in %s (%s is taken there by %s)",
            video,
            stem,
            index.output_dir,
            wanted,
            holder,
        )
    return stem


def open_state(output_dir: Path, video_key: str) -> VideoState:
    """The video's state database, checked; one that fails its check (damaged, altered,
    naming files outside the folder) is renamed aside with a WARNING, never deleted, and
    the video is processed afresh. Call it holding the video's lock."""
    path = video_folder(output_dir, video_key) / STATE_FILENAME
    try:
        store = VideoState(output_dir, video_key)
        try:
            store.check()
        except StateError:
            store.close()
            raise
        return store
    except StateError as exc:
        moved = set_aside(path, str(exc))
        log.warning(
            "state database failed its check (%s); set aside as %s, and the video is "
            "processed afresh",
            exc,
            moved,
        )
        return VideoState(output_dir, video_key)


def _needs_run(ctx: RunContext, step: Step, wanted: str) -> bool:
    state = ctx.store.step(step.NAME)
    if state is not None and state[0] == wanted and state[1] and step.still_valid(ctx):
        return False
    if state is None or state[0] != wanted or state[1]:
        # New, reconfigured, or done-but-invalid: start this step afresh.
        step.discard(ctx)
        if step.TEMP is not None:
            ctx.clear_intermediates(step.TEMP)
        ctx.store.reset_step(step.NAME, wanted)
    return True


def process_video(
    video: Path,
    config: Config,
    models: ModelSession,
    stop: StopFlag,
    progress: ProgressFn | None = None,
    preferred: str = "",
) -> VideoResult:
    """Run (or resume) every step for one video; ``preferred`` is the output stem the
    batch chose for it (taken unless the video holds one, or another video does). Raises
    PersonframesError on failure."""
    started = time.perf_counter()
    probe_video(video)  # a rejected input leaves nothing behind in the output folder
    out_dir = output_dir_for(video, config)
    ensure_output_dir(out_dir)
    index = FolderIndex(out_dir)
    key = ""
    fresh = False
    try:
        with folder_lock(index.folder, exclusive=False):
            key = index.video_key(video, remembered=not config.pipeline.force)
            with video_lock(index.folder, key, video):
                fresh = not (video_folder(out_dir, key) / STATE_FILENAME).exists()
                store = open_state(out_dir, key)
                try:
                    ctx = RunContext(
                        video_path=video,
                        video_key=key,
                        stem=claim_stem(index, key, video, preferred),
                        output_dir=out_dir,
                        config=config,
                        store=store,
                        models=models,
                        stop=stop,
                    )
                    if progress is not None:
                        ctx.progress = progress
                    ran = _run_steps(ctx)
                    summary = store.load_one("manifest", SUMMARY_KEY, RunSummary).model_dump()
                finally:
                    store.close()
    except InputError:
        if fresh:  # found bad while decoding: leave no state behind, as for a rejected file
            remove_fresh_state(out_dir, key, video)
        raise
    summary["stage_seconds"] = {k: round(v, 3) for k, v in sorted(ctx.timings.items())}
    if ctx.stem != safe_stem(video.stem):
        summary["output_stem"] = ctx.stem
    return VideoResult(
        path=video,
        status="done" if ran else "skipped",
        summary=summary,
        seconds=time.perf_counter() - started,
        manifest=out_dir / manifest_name(ctx.stem),
    )


def _run_steps(ctx: RunContext) -> bool:
    """Run the steps that are not done under this config; True when any ran."""
    video, config = ctx.video_path, ctx.config
    if config.pipeline.force:
        for step in reversed(STEPS):
            step.discard(ctx)
            step.forget(ctx)
        ctx.store.forget()
    hashes = step_hashes(config)
    ran = False
    for step in STEPS:
        if not _needs_run(ctx, step, hashes[step.NAME]):
            log.debug("%s: step %s already done", video.name, step.NAME)
            continue
        ran = True
        log.debug("%s: running step %s", video.name, step.NAME)
        step_started = time.perf_counter()
        step.run(ctx)
        ctx.timings[f"step:{step.NAME}"] += time.perf_counter() - step_started
    if not config.pipeline.keep_temp:
        ctx.clear_intermediates()  # kept by an earlier --keep-temp run
    elif ran:
        log.info("%s: intermediate files kept in %s", video.name, ctx.temp_dir)
    else:
        log.info("%s: already done, no intermediate files written (add --force)", video.name)
    return ran
