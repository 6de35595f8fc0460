"""Command line: parse, build the config, call the library, print. One top-level error
handler. Options are generated from the config models (:mod:`.options`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..config import load_config
from ..errors import PersonframesError, debug_enabled, printable
from .export import export
from .extract import extract
from .models import models
from .options import config_option
from .restore import restore
from .review import review
from .summary import summary


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="personframes")
def cli() -> None:
    """Turn videos of people into curated, face-restored image datasets."""


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@config_option
def config_show(config_file: Path | None) -> None:
    """Print the merged configuration (defaults < file < environment) as YAML."""
    click.echo(load_config(config_file).to_yaml(), nl=False)


cli.add_command(extract)
cli.add_command(models)
cli.add_command(restore)
cli.add_command(review)
cli.add_command(export)
cli.add_command(summary)


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
