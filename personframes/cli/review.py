"""`personframes review OUT`: the local gallery, a contact sheet, or the review written
into the manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..logs import setup_logging
from ..pipeline.folder import prepare_output_folder
from ..review.sheet import write_sheet
from ..state.review import check_output_folder
from ..state.review_manifest import write_review_manifests
from .options import LOGGING, add_options, config_option, flag, overrides, version_option

FLAGS = (
    flag("review.port", "--port"),
    flag("review.browser", "--browser/--no-browser"),
    *LOGGING,
)


@click.command("review")
@click.argument("output_dir", type=click.Path(path_type=Path))
@click.option(
    "--sheet",
    type=click.Path(path_type=Path),
    help="Write a contact sheet (.html, self-contained, or .png) instead of serving.",
)
@click.option(
    "--write-manifest",
    is_flag=True,
    help="Write the review (decisions, merged and named people) into each VIDEO_info.json "
    "instead of serving.",
)
@add_options(FLAGS)
@config_option
@version_option
def review(
    output_dir: Path,
    sheet: Path | None,
    write_manifest: bool,
    config_file: Path | None,
    **params: Any,
) -> None:
    """Review the images of OUTPUT_DIR in a local web gallery: accept or reject each,
    merge and name people. It runs on 127.0.0.1 while an extract writes into the folder."""
    config = load_config(config_file, overrides(params))
    setup_logging(config.logging)
    prepare_output_folder(output_dir)  # the state of an earlier version, moved over
    check_output_folder(output_dir)  # a clear error for a folder extract did not write
    if sheet is not None or write_manifest:
        if sheet is not None:
            size = write_sheet(output_dir, sheet)
            click.echo(f"{sheet} ({size / 1024:.0f} KiB)", err=True)
        if write_manifest:
            for path in write_review_manifests(output_dir):
                click.echo(f"{path}", err=True)
        return
    from ..review.server import serve

    serve(
        output_dir,
        config.review.port,
        config.review.browser,
        say=lambda line: click.echo(line, err=True),
    )
