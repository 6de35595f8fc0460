"""`personframes config show`: the merged configuration."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import load_config
from .options import config_option


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@config_option
def config_show(config_file: Path | None) -> None:
    """Print the merged configuration (defaults < file < environment) as YAML."""
    click.echo(load_config(config_file).to_yaml(), nl=False)
