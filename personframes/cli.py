"""Command line: parse, build the config, call the library. One top-level error handler."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .batch import BatchResult, run_batch
from .cli_models import models
from .cli_restore import restore
from .config import Config, load_config
from .errors import PersonframesError, debug_enabled, printable
from .logs import setup_logging
from .models import MODEL_IDS
from .restore.policy import POLICY_NAMES
from .summary import print_summary

log = logging.getLogger("personframes")
F = TypeVar("F", bound=Callable[..., Any])

# CLI parameter name -> (config section, field). Every flag defaults to None so
# that only what the user typed overrides the file and the environment.
CLI_FIELDS: dict[str, tuple[str, str]] = {
    "output_dir": ("output", "output_dir"),
    "output_format": ("output", "format"),
    "output_jpg_quality": ("output", "jpg_quality"),
    "output_face_crop_padding": ("output", "face_crop_padding"),
    "full_frames": ("output", "full_frames"),
    "face_crops": ("output", "face_crops"),
    "face_restoration": ("output", "face_restoration"),
    "face_restoration_strength": ("output", "face_restoration_strength"),
    "face_restoration_model": ("output", "face_restoration_model"),
    "face_restoration_policy": ("output", "face_restoration_policy"),
    "resize": ("output", "resize"),
    "body_crops": ("output", "body_crops"),
    "crop_ratio": ("output", "crop_ratio"),
    "crop_padding": ("output", "crop_padding"),
    "caption": ("output", "caption"),
    "trigger": ("output", "trigger"),
    "bucket": ("output", "bucket"),
    "min_frames_per_category": ("selection", "min_frames_per_category"),
    "max_frames_per_category": ("selection", "max_frames_per_category"),
    "min_seconds_apart": ("selection", "min_seconds_apart"),
    "quality_threshold": ("quality", "threshold"),
    "max_frames": ("sampling", "max_frames"),
    "sample_interval": ("sampling", "sample_interval"),
    "confidence": ("models", "confidence"),
    "device": ("models", "device"),
    "face_detector": ("models", "face_detector"),
    "force": ("pipeline", "force"),
    "keep_temp": ("pipeline", "keep_temp"),
    "workers": ("pipeline", "workers"),
    "log_level": ("logging", "log_level"),
    "verbose": ("logging", "verbose"),
    "quiet": ("logging", "quiet"),
    "log_file": ("logging", "log_file"),
    "log_format": ("logging", "log_format"),
}


def cli_overrides(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        if name in CLI_FIELDS and value is not None:
            section, field = CLI_FIELDS[name]
            overrides.setdefault(section, {})[field] = value
    return overrides


def config_from(params: dict[str, Any]) -> Config:
    return load_config(params.get("config"), cli_overrides(params))


def common_options(func: F) -> F:
    """Options every processing command shares (config file, device, logging)."""
    options = [
        click.option("--config", type=click.Path(path_type=Path), help="YAML or JSON config file."),
        click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), help="Compute device."),
        click.option(
            "--log-level",
            type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        ),
        click.option("--verbose", "-v", is_flag=True, default=None, help="Debug logging."),
        click.option("--quiet", "-q", is_flag=True, default=None, help="Errors only."),
        click.option("--log-file", help="Also log to this file."),
        click.option("--log-format", type=click.Choice(["text", "json"]), help="Log line format."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="personframes")
def cli() -> None:
    """Turn videos of people into curated, face-restored image datasets."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output-dir", "-o", help="Default: beside the video.")
@click.option("--output-format", type=click.Choice(["jpg", "png"]), help="Image format.")
@click.option("--output-jpg-quality", type=click.IntRange(1, 100), help="JPEG quality (95).")
@click.option(
    "--output-face-crop-padding", type=float, help="Padding around the head (0.1 x its size)."
)
@click.option("--full-frames/--no-full-frames", default=None, help="Write full frames.")
@click.option("--face-crops/--no-face-crops", default=None, help="Write face crops.")
@click.option("--body-crops/--no-body-crops", "--crop", default=None, help="Write body crops.")
@click.option("--crop-ratio", type=click.Choice(["1:1", "4:3", "16:9", "any"]), help="Crop shape.")
@click.option("--crop-padding", type=float, help="Body crop padding (0.1 x box size).")
@click.option("--resize", type=click.IntRange(256, 4096), help="Longest side of outputs (px).")
@click.option("--bucket", type=click.IntRange(8, 512), help="Snap output sizes to multiples.")
@click.option("--caption/--no-caption", default=None, help="Write a .txt caption per image.")
@click.option("--trigger", help="Trigger word that starts every caption.")
@click.option("--min-frames-per-category", type=click.IntRange(min=0), help="Per person (3).")
@click.option("--max-frames-per-category", type=click.IntRange(min=1), help="Per person (5).")
@click.option("--min-seconds-apart", type=float, help="Spacing within a category (3.0 s).")
@click.option("--quality-threshold", type=click.FloatRange(0, 1), help="Drop below (0.2).")
@click.option(
    "--face-restoration/--no-face-restoration", default=None, help="Restore face crops (on)."
)
@click.option(
    "--face-restoration-strength",
    type=click.FloatRange(0, 1),
    help="Most strength the policy may use; 0 = Lanczos only (0.8).",
)
@click.option(
    "--face-restoration-policy",
    type=click.Choice(POLICY_NAMES),
    help="auto: restore only where it helps (default); always: every face.",
)
@click.option("--face-restoration-model", type=click.Choice(MODEL_IDS), help="Restoration model.")
@click.option("--max-frames", type=click.IntRange(min=1), help="Cap on candidate frames.")
@click.option("--sample-interval", type=float, help="Seconds between sampled frames (0.25).")
@click.option("--confidence", type=float, help="Minimum face detection score.")
@click.option("--face-detector", help="Face detector id.")
@click.option("--force", is_flag=True, default=None, help="Start over, ignoring saved progress.")
@click.option("--workers", type=click.IntRange(1, 64), help="Videos processed in parallel (1).")
@click.option(
    "--keep-temp",
    is_flag=True,
    default=None,
    help="Keep intermediate files (candidate frames, crops before restoration) in "
    "OUT/.personframes/temp/.",
)
@common_options
def extract(inputs: tuple[Path, ...], **params: Any) -> None:
    """Extract face crops and full frames of people from videos (files or folders)."""
    config = config_from(params)
    setup_logging(config.logging)
    result = run_batch(list(inputs), config)
    if len(result.failures) == 1 and not result.results and result.interrupted is None:
        # A single failed input: just the one-line reason, like any other error.
        click.echo(f"personframes: error: {printable(result.failures[0][1])}", err=True)
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


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.option("--config", type=click.Path(path_type=Path), help="YAML or JSON config file.")
def config_show(config: Path | None) -> None:
    """Print the merged configuration (defaults < file < environment) as YAML."""
    click.echo(load_config(config).to_yaml(), nl=False)


cli.add_command(models)
cli.add_command(restore)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error into one line and an exit code."""
    debug = debug_enabled()
    try:
        cli.main(args=argv, prog_name="personframes", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("personframes: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if debug:
            raise
        exc.show()
        sys.exit(exc.exit_code)
    except PersonframesError as exc:
        if debug:
            raise
        click.echo(f"personframes: error: {printable(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("personframes: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the one top-level catch: never a traceback for users
        if debug:
            raise
        click.echo(
            f"personframes: internal error: {type(exc).__name__}: {printable(str(exc))} "
            "(set PERSONFRAMES_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)
