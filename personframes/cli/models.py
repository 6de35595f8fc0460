"""`personframes models list|fetch|verify|tune`: fetch, then run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from ..config import load_config
from ..cores import engine_threads
from ..errors import ModelError
from ..logs import setup_logging
from ..models.cache import is_installed, resolve_cache_dir, resolve_model
from ..models.catalogue import CATALOGUE, DEFAULT_MODEL, RESTORATION_KINDS, restoration_model
from ..models.download import fetch_model, verify_models
from ..models.session import ModelSession
from ..restore.engine_choice import choose
from ..restore.engines.base import ENGINES, engine_available
from ..restore.loading import engine_for
from ..restore.rrdbnet_onnx import save_rrdbnet_graph
from .options import add_options, config_option, flag, overrides

F = TypeVar("F", bound=Callable[..., Any])
RESTORATION_IDS = tuple(s.id for s in CATALOGUE.values() if s.kind in RESTORATION_KINDS)


def _cache_option(func: F) -> F:
    """--cache-dir and --config: where the models are (default: PERSONFRAMES_CACHE_DIR,
    else the platform's cache folder)."""
    return config_option(add_options((flag("models.cache_dir", "--cache-dir"),))(func))


def _cache_dir(config_file: Path | None, params: dict[str, Any]) -> Path | None:
    return load_config(config_file, overrides(params)).models.cache_dir


@click.group("models")
def models() -> None:
    """List, download and verify the models face restoration uses."""


@models.command("list")
@_cache_option
def list_models(config_file: Path | None, **params: Any) -> None:
    """Show every model: engine, size, licence, whether it is installed."""
    cache_dir = _cache_dir(config_file, params)
    table = Table(title=f"models (cache: {resolve_cache_dir(cache_dir)})")
    for column in ("id", "kind", "engine", "size", "licence", "installed"):
        table.add_column(column, no_wrap=True)
    for spec in CATALOGUE.values():
        engine: str = spec.engine
        if spec.engine in ENGINES and not engine_available(spec.engine):
            engine += " (not installed)"
        licence = spec.licence if spec.commercial_use else f"[bold red]{spec.licence}[/]"
        table.add_row(
            spec.id,
            spec.kind,
            engine,
            f"{spec.size / 1e6:.1f} MB",
            licence,
            "yes" if is_installed(spec, cache_dir) else "no",
        )
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=120)
    console.print(table)


@models.command("fetch")
@click.argument("model_ids", nargs=-1, required=True, type=click.Choice(CATALOGUE.ids))
@click.option("--force", is_flag=True, help="Download again even if the file is valid.")
@_cache_option
def fetch(model_ids: tuple[str, ...], force: bool, config_file: Path | None, **params: Any) -> None:
    """Download (or check) the files of MODEL_IDS; SHA-256 verified."""
    cache_dir = _cache_dir(config_file, params)
    for model_id in model_ids:
        spec = CATALOGUE[model_id]
        if not spec.commercial_use:
            click.echo(f"note: {spec.id} is licensed {spec.licence}", err=True)
        resolved = fetch_model(spec, cache_dir, force=force)
        for name, path in resolved.paths.items():
            click.echo(f"{spec.id}: {name} ok ({path})")


@models.command("verify")
@click.argument("model_ids", nargs=-1, type=click.Choice(CATALOGUE.ids))
@_cache_option
def verify(model_ids: tuple[str, ...], config_file: Path | None, **params: Any) -> None:
    """Re-hash installed model files; report bad ones with the repair command."""
    cache_dir = _cache_dir(config_file, params)
    statuses = verify_models(cache_dir, list(model_ids) or None)
    bad = []
    for status in statuses:
        if status.status == "ok":
            click.echo(f"ok       {status.model_id}  {status.path}")
        elif status.status == "missing":
            click.echo(f"missing  {status.model_id}  {status.file} (not installed)")
        else:
            bad.append(status)
            click.echo(
                f"CORRUPT  {status.model_id}  {status.path}: {status.detail}; "
                f"repair: {status.repair}"
            )
    if bad:
        repairs = sorted({s.repair for s in bad})
        raise ModelError(f"{len(bad)} model file(s) corrupt; repair with: {'; '.join(repairs)}")


@models.command("tune")
@click.argument("model_id", default=DEFAULT_MODEL, type=click.Choice(RESTORATION_IDS))
@add_options((flag("models.precision", "--precision"),))
@_cache_option
def tune(model_id: str, config_file: Path | None, **params: Any) -> None:
    """Measure which engine restores faces fastest here and save the choice (and
    Real-ESRGAN's ONNX graph, for the engines that run it) in the model cache."""
    config = load_config(config_file, overrides(params))
    setup_logging(config.logging)
    session = ModelSession(config.models.cache_dir)
    spec = restoration_model(model_id)
    if spec.arch == "rrdbnet" and spec.has_files(".param", ".bin"):
        save_rrdbnet_graph(resolve_model(spec, config.models.cache_dir))
    choice = choose(
        spec,
        lambda c: engine_for(session, model_id, "cpu", c),
        precision=config.models.precision,
        cache_dir=config.models.cache_dir,
        save=True,
    )
    if choice.precision_fallback:
        click.echo(f"note: bf16 asked for, but {choice.precision_fallback}", err=True)
    for trial in choice.trials:
        seconds = f"{trial.seconds:7.3f} s" if trial.seconds is not None else "      - "
        quality = f"{trial.psnr_db:5.1f} dB" if trial.psnr_db is not None else "     -  "
        status = f"refused: {trial.refused}" if trial.refused else ""
        click.echo(f"{trial.candidate!s:20} {seconds}  {quality}  {status}".rstrip())
    click.echo(f"{model_id}: {choice.candidate} ({choice.how}, {engine_threads()} threads)")
