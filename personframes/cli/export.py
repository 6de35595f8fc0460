"""`personframes export OUT DEST --format kohya|imagefolder|jsonl|musubi|aitoolkit`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..export import export_dataset
from ..logs import setup_logging
from .options import LOGGING, add_options, config_option, flag, overrides, version_option

FLAGS = (
    flag("export.format", "--format"),
    flag("export.include", "--include"),
    flag("export.kind", "--kind"),
    flag("export.images", "--with-images/--clips-only"),
    flag("export.group_by", "--group-by"),
    flag("export.repeats", "--repeats"),
    flag("export.trigger", "--trigger"),
    flag("export.class_word", "--class"),
    flag("export.bucket", "--bucket"),
    flag("export.link", "--link/--copy"),
    *LOGGING,
)


@click.command("export")
@click.argument("output_dir", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@add_options(FLAGS)
@click.option(
    "--overwrite-edited",
    is_flag=True,
    help="Replace the files of DEST changed since the last export wrote them (a caption "
    "edited by hand); without it they are left as they are, with a WARNING.",
)
@config_option
@version_option
def export(
    output_dir: Path,
    dest: Path,
    overwrite_edited: bool,
    config_file: Path | None,
    **params: Any,
) -> None:
    """Write the reviewed images and clips of OUTPUT_DIR into DEST in a trainer's layout
    (the accepted ones; --include unreviewed: all but the rejected). OUTPUT_DIR is not
    changed; a rerun into the same DEST brings it up to date, leaving files edited there
    alone."""
    config = load_config(config_file, overrides(params))
    setup_logging(config.logging)
    from ..state.review import check_output_folder

    check_output_folder(output_dir)
    result = export_dataset(output_dir, dest, config.export, overwrite_edited)
    counts = result.counts
    left_out = ", ".join(f"{n} {why}" for why, n in sorted(result.skipped.items()))
    edited = "".join(
        f", {counts[key]} edited {what}"
        for key, what in (("edited_kept", "left alone"), ("edited_replaced", "replaced"))
        if counts[key]
    )
    taken = [
        f"{n} {what}{'s' * (n != 1)}"
        for n, what in ((result.images, "image"), (result.clips, "clip"))
        if n or (what == "image" and not result.clips)
    ]
    click.echo(
        f"{dest}: {' and '.join(taken)} of {result.people} "
        f"{'person' if result.people == 1 else 'people'} as {config.export.format} "
        f"({counts['written']} files written, {counts['unchanged']} unchanged, "
        f"{counts['removed']} removed{edited})" + (f"; left out: {left_out}" if left_out else ""),
        err=True,
    )
    if counts["link_fallbacks"]:
        click.echo(f"{counts['link_fallbacks']} images copied: hard links were refused", err=True)
