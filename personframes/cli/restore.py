"""`personframes restore INPUT... -o DIR`: restore the faces in images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..logs import setup_logging
from . import loading_modules
from .options import LOGGING, add_options, config_option, flag, overrides, version_option

FLAGS = (
    flag("restore.upscale", "--upscale"),
    flag("restore.aligned", "--aligned"),
    flag("output.face_restoration_strength", "--face-restoration-strength"),
    flag("output.face_restoration_policy", "--face-restoration-policy"),
    flag("output.face_restoration_model", "--face-restoration-model"),
    flag("output.face_restoration_max_drift", "--face-restoration-max-drift"),
    flag("restore.fidelity", "--fidelity"),
    flag("restore.max_image_pixels", "--max-image-pixels"),
    flag("models.face_detector", "--face-detector"),
    flag("models.confidence", "--confidence"),
    flag("models.device", "--device"),
    flag("models.restore_engine", "--restore-engine"),
    flag("models.precision", "--precision"),
    flag("models.cache_dir", "--cache-dir"),
    *LOGGING,
)


@click.command("restore")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the restored images (never an input's own name in its folder).",
)
@add_options(FLAGS)
@config_option
@version_option
def restore(
    inputs: tuple[Path, ...], output_dir: Path, config_file: Path | None, **params: Any
) -> None:
    """Restore the faces in INPUT images (files or folders) into -o DIR."""
    config = load_config(config_file, overrides(params))
    setup_logging(config.logging)
    with loading_modules():
        from ..restore.images import restore_images

    def done(dest: Path, summary: str, seconds: float) -> None:
        click.echo(f"{dest} ({summary}; {seconds:.1f} s)", err=True)

    restore_images(list(inputs), output_dir, config, on_done=done)
