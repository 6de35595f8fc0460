"""Command line: parse, build the config, call the library, print. One top-level error
handler. Options are generated from the config models (:mod:`.options`).

Each subcommand's module is imported only when that subcommand runs (:class:`LazyGroup`),
so ``--version``, ``--help`` and a mistyped command answer without loading the config,
the models or the engines."""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import traceback
from typing import Any

import click

from .. import __version__
from ..errors import PersonframesError, debug_enabled, printable

# name -> (module, attribute, the one-line help ``personframes --help`` lists)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "extract": ("extract", "extract", "Extract face crops and full frames of people from videos."),
    "restore": ("restore", "restore", "Restore the faces in images (files or folders)."),
    "review": ("review", "review", "Review an output folder's images in a local web gallery."),
    "export": ("export", "export", "Write the reviewed images into a trainer's layout."),
    "summary": ("summary", "summary", "Summarise every video processed into an output folder."),
    "models": ("models", "models", "List, download, verify and tune the models."),
    "config": ("config_cmd", "config_group", "Inspect the configuration."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used; ``--help`` lists them from
    ``SUBCOMMANDS`` without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attr, _ = entry
        with loading_modules():
            command: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in SUBCOMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class loading_modules:
    """While a subcommand's modules load (native libraries, schemas), Ctrl+C or SIGTERM
    ends the process at once with one line (see :mod:`personframes.entry`)."""

    def __enter__(self) -> None:
        from ..interrupts import ended_while_loading

        self._saved: list[Any] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not in the main thread (a library caller's): the handlers are left alone.
            with contextlib.suppress(ValueError):
                self._saved.append((signum, signal.signal(signum, ended_while_loading)))

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved:
            signal.signal(signum, handler)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="personframes")
def cli() -> None:
    """Turn videos of people into curated, face-restored image datasets."""


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
            traceback.print_exc()  # the traceback, and still the exit code of the error
        exc.show()
        sys.exit(exc.exit_code)
    except PersonframesError as exc:
        if debug:
            traceback.print_exc()
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
