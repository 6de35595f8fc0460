"""`personframes extract VIDEO...`: the pipeline's command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import load_config
from ..errors import printable
from ..logs import setup_logging
from . import loading_modules
from .options import (
    LOGGING,
    Flag,
    add_options,
    config_option,
    every_other_setting,
    flag,
    overrides,
    version_option,
)

if TYPE_CHECKING:
    from ..pipeline.batch import BatchResult

log = logging.getLogger(__name__)

# Our names first; Person From Vid's names for the same settings after them.
FLAGS: tuple[Flag, ...] = (
    flag("output.output_dir", "--output-dir", "-o"),
    flag("output.format", "--output-format", choices=("jpeg",)),
    flag("output.jpg_quality", "--output-jpg-quality", "--output-jpeg-quality"),
    flag("output.png_optimize", "--output-png-optimize/--no-output-png-optimize"),
    flag("output.face_crop_padding", "--output-face-crop-padding"),
    flag("output.full_frames", "--full-frames/--no-full-frames"),
    flag("output.group_by_person", "--group-by-person/--no-group-by-person"),
    flag(
        "output.face_crops",
        "--face-crops/--no-face-crops",
        "--output-face-crop-enabled/--no-output-face-crop-enabled",
    ),
    flag("output.body_crops", "--body-crops/--no-body-crops", "--crop"),
    flag("output.crop_ratio", "--crop-ratio"),
    flag("output.crop_padding", "--crop-padding"),
    flag("output.resize", "--resize"),
    flag("output.bucket", "--bucket"),
    flag("output.caption", "--caption/--no-caption"),
    flag("output.trigger", "--trigger"),
    flag("selection.min_frames_per_category", "--min-frames-per-category"),
    flag("selection.max_frames_per_category", "--max-frames-per-category"),
    flag("selection.min_seconds_apart", "--min-seconds-apart"),
    flag("selection.min_face_size", "--min-face-size"),
    flag("selection.people", "--people"),
    flag("selection.reference_faces", "--reference-face"),
    flag("selection.exclude_faces", "--exclude-face"),
    flag("selection.reference_distance", "--reference-distance"),
    flag("quality.threshold", "--quality-threshold"),
    flag("output.face_restoration", "--face-restoration/--no-face-restoration"),
    flag("output.face_restoration_strength", "--face-restoration-strength"),
    flag("output.face_restoration_policy", "--face-restoration-policy"),
    flag("output.face_restoration_model", "--face-restoration-model"),
    flag("clips.enabled", "--clips/--no-clips"),
    flag("clips.preset", "--clip-preset"),
    flag("clips.fps", "--clip-fps"),
    flag("clips.frames", "--clip-frames"),
    flag("clips.min_frames", "--clip-min-frames"),
    flag("clips.crop", "--clip-crop"),
    flag("clips.size", "--clip-size"),
    flag("clips.per_person", "--clips-per-person"),
    flag("clips.smoothing", "--clip-smoothing"),
    flag("sampling.max_frames", "--max-frames"),
    flag("sampling.sample_interval", "--sample-interval"),
    flag("models.confidence", "--confidence"),
    flag("models.face_detector", "--face-detector"),
    flag("models.device", "--device"),
    flag("models.restore_engine", "--restore-engine"),
    flag("models.precision", "--precision"),
    flag("models.batch_size", "--batch-size"),
    flag("pipeline.force", "--force"),
    flag("pipeline.workers", "--workers"),
    flag("pipeline.keep_temp", "--keep-temp"),
    flag("pipeline.shard", "--shard"),
    flag("pipeline.executor", "--executor", choices=("local", "ray")),
    flag("pipeline.ray_address", "--ray-address"),
    flag("pipeline.ray_timeout", "--ray-timeout"),
    flag("pipeline.gpus_per_worker", "--gpus-per-worker"),
    flag("pipeline.retries", "--retries"),
    *LOGGING,
)
# The settings above are the common ones; every other one of the sections extract reads
# has a flag too (--sampling-dedup-distance, --pose-standing-min-angle, ...).
FLAGS += every_other_setting(
    (
        "models",
        "sampling",
        "pose",
        "head_angle",
        "quality",
        "selection",
        "output",
        "clips",
        "pipeline",
    ),
    FLAGS,
)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@add_options(FLAGS)
@click.option(
    "--no-structured-output",
    "no_structured_output",
    is_flag=True,
    help="Person From Vid's switch to plain log lines (no emoji or panels); accepted "
    "and ignored: personframes always logs plain lines.",
)
@config_option
@version_option
def extract(inputs: tuple[Path, ...], config_file: Path | None, **params: Any) -> None:
    """Extract face crops and full frames of people from videos (files or folders)."""
    config = load_config(config_file, overrides(params))
    setup_logging(config.logging)
    with loading_modules():  # the pipeline: its models load when a video needs them
        from ..pipeline.batch import run_batch
        from .progress import ProgressDisplay
        from .summary import print_summary
    if config.models.batch_size > 1:
        log.info("batch size %d: detection runs one frame at a time", config.models.batch_size)
    with ProgressDisplay(enabled=not config.logging.quiet) as display:
        result = run_batch(list(inputs), config, display)
    if len(result.failures) == 1 and not result.results and result.interrupted is None:
        # A single failed input: just the one-line reason, like any other error.
        click.echo(f"personframes: error: {printable(result.failures[0][1])}", err=True)
    elif result.interrupted is not None and not result.results and not result.failures:
        # Stopped before any video finished: one line, as any interrupt.
        click.echo(
            f"personframes: interrupted: {printable(str(result.interrupted))}; run the same "
            "command again to resume",
            err=True,
        )
    elif not config.logging.quiet or result.failures or result.interrupted:
        print_summary(result)
    sys.exit(batch_exit_code(result))


def batch_exit_code(result: BatchResult) -> int:
    if result.interrupted is not None:
        return result.interrupted.exit_code
    if not result.failures:
        return 0
    if not result.results and all(code == 2 for _, _, code in result.failures):
        return 2
    return 1
