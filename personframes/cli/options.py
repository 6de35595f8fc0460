"""Command-line options generated from the config models.

A flag is one row of a table: the config setting it sets and its names on the command
line. Its type, choices, range, help and default all come from the setting's field in
:mod:`personframes.config`, so each lives in one place. Every flag defaults to None,
so that only what the user typed overrides the config file and the environment.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types
import click
from pydantic.fields import FieldInfo

from .. import __version__
from ..config import Config

F = TypeVar("F", bound=Callable[..., Any])
SEP = "__"  # click parameter name: section__field


@dataclass(frozen=True)
class Flag:
    """``setting``: "section.field"; ``names``: its option names (the first is the one
    shown first; ``"--a/--no-a"`` for a switch); ``choices``: more accepted values
    (another tool's names for ours), or, for a free-text setting, the registry's ids."""

    setting: str
    names: tuple[str, ...]
    choices: tuple[str, ...] = ()

    @property
    def param(self) -> str:
        section, field = self.setting.split(".")
        return f"{section}{SEP}{field}"

    def field(self) -> FieldInfo:
        section, field = self.setting.split(".")
        model = Config.model_fields[section].annotation
        assert isinstance(model, type)  # a section model
        info: FieldInfo = model.model_fields[field]
        return info


def flag(setting: str, *names: str, choices: Iterable[str] = ()) -> Flag:
    return Flag(setting, names, tuple(choices))


def _bounds(field: FieldInfo) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["min"] = item.ge
        elif isinstance(item, annotated_types.Gt):
            bounds.update(min=item.gt, min_open=True)
        elif isinstance(item, annotated_types.Le):
            bounds["max"] = item.le
        elif isinstance(item, annotated_types.Lt):
            bounds.update(max=item.lt, max_open=True)
    return bounds


def _base(annotation: Any) -> Any:
    """``X`` of ``X | None`` and of ``Annotated[X, ...]``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            annotation = args[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _as_int(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    return None if value is None else int(value)


def _click_type(spec: Flag, field: FieldInfo) -> Any:
    kind = _base(field.annotation)
    if get_origin(kind) is Literal:
        values = [str(v) for v in get_args(kind)]
        return click.Choice([*values, *spec.choices], case_sensitive=False)
    if spec.choices:
        return click.Choice(spec.choices)
    bounds = _bounds(field)
    if kind is int:
        if any(k.endswith("_open") for k in bounds):  # IntRange has no open ends
            return click.IntRange(bounds.get("min"), bounds.get("max"))
        return click.IntRange(**bounds) if bounds else int
    if kind is float:
        return click.FloatRange(**bounds) if bounds else float
    if kind is Path:
        return click.Path()  # a string: the config refuses an empty one (not ".")
    return str


def _default_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _help(field: FieldInfo) -> str:
    text = field.description or ""
    text = text[:1].upper() + text[1:]
    default = _default_text(field.get_default(call_default_factory=True))
    return f"{text} (default: {default})." if default else f"{text}."


def _none_if_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    return list(value) if value else None  # not given: the config's list stands


def make_option(spec: Flag) -> Callable[[F], F]:
    """The click option for ``spec``, typed, ranged and documented by its config field."""
    field = spec.field()
    is_switch = _base(field.annotation) is bool
    settings: dict[str, Any] = {"default": None, "help": _help(field)}
    if get_origin(_base(field.annotation)) is list:  # repeat the option for more values
        settings.update(multiple=True, type=click.Path(), callback=_none_if_empty)
        settings["help"] = settings["help"].replace("(default: [])", "(default: none)")
    elif is_switch:
        if not any("/" in name for name in spec.names):
            settings["is_flag"] = True
    else:
        settings["type"] = _click_type(spec, field)
        kind = _base(field.annotation)
        if get_origin(kind) is Literal and all(isinstance(v, int) for v in get_args(kind)):
            settings["callback"] = _as_int  # a choice of numbers: the config wants ints
    option: Callable[[F], F] = click.option(*spec.names, spec.param, **settings)
    return option


def every_other_setting(sections: Iterable[str], named: Sequence[Flag]) -> tuple[Flag, ...]:
    """A flag ``--section-field`` for each setting of ``sections`` that ``named`` lacks:
    a new setting is on the command line as soon as it is in the config."""
    taken = {spec.setting for spec in named}
    flags = []
    for section in sections:
        model = Config.model_fields[section].annotation
        assert isinstance(model, type)
        for field, info in model.model_fields.items():
            if f"{section}.{field}" in taken:
                continue
            name = f"--{section}-{field}".replace("_", "-")
            if _base(info.annotation) is bool:
                name = f"{name}/--no-{name[2:]}"
            flags.append(flag(f"{section}.{field}", name))
    return tuple(flags)


def add_options(flags: Sequence[Flag]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for spec in reversed(flags):
            func = make_option(spec)(func)
        return func

    return decorate


def overrides(params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The config layer of what the user typed: ``{section: {field: value}}``."""
    result: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        if SEP in name and value is not None:
            section, field = name.split(SEP, 1)
            result.setdefault(section, {})[field] = value
    return result


def config_option(func: F) -> F:
    option: Callable[[F], F] = click.option(
        "--config",
        "-c",
        "config_file",
        type=click.Path(path_type=Path),
        help="YAML or JSON config file (Person From Vid's files too).",
    )
    return option(func)


def version_option(func: F) -> F:
    """``--version`` on every command, as on the group."""
    option: Callable[[F], F] = click.version_option(__version__, prog_name="personframes")
    return option(func)


LOGGING = (
    flag("logging.log_level", "--log-level", "-l"),
    flag("logging.verbose", "--verbose", "-v"),
    flag("logging.quiet", "--quiet", "-q"),
    flag("logging.log_file", "--log-file"),
    flag("logging.log_format", "--log-format"),
)
