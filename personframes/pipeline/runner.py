"""Runs the steps of one video in order, resuming from the state store."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import Config
from ..models.session import ModelSession
from ..output.naming import safe_stem
from ..output.writer import ensure_output_dir
from ..state.opening import open_video
from ..state.records import SUMMARY_KEY, RunSummary
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
    with open_video(
        out_dir,
        video,
        remembered=not config.pipeline.force,
        preferred=preferred,
        forget_fresh=lambda key: remove_fresh_state(out_dir, key, video),
    ) as opened:
        ctx = RunContext(
            video_path=video,
            video_key=opened.key,
            stem=opened.stem,
            output_dir=out_dir,
            config=config,
            store=opened.store,
            models=models,
            stop=stop,
        )
        if progress is not None:
            ctx.progress = progress
        ran = _run_steps(ctx)
        summary = opened.store.load_one("manifest", SUMMARY_KEY, RunSummary).model_dump()
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
