"""Restoring the faces of image files: ``restore_images`` (the ``restore`` command's work).

Every input's header is read first (format, size, the pixel limit) and every output
name checked, before any model loads: a named file that is not a usable image stops
the command at once. Then each image is decoded, its faces restored
(:class:`~personframes.restore.api.FaceRestoration`, or one aligned face per image),
and written in the format its output name asks for, into a temporary file renamed into
place. Models load when the first image needs them, and the restoration engine is
chosen (measured once per machine) only when a face needs the model.

An image whose faces were all left as is (and not enlarged) is written as its own
bytes; where faces changed, a JPEG is written back with the source's quantisation
tables and subsampling (:mod:`personframes.image_file`). An image of a folder that
cannot be read is reported and skipped; the run goes on and fails at the end
(:class:`RestoreFailures`, exit 1) with the count.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import InputError, PersonframesError
from ..image_file import (
    FORMATS,
    ImageHeader,
    check_writable,
    output_format,
    pillow_limit_off,
    probe_image,
    read_image,
    write_like_source,
)
from ..models.session import ModelSession
from ..output.writer import atomic_file, ensure_output_dir
from ..resize import lanczos
from .align import FFHQ_TEMPLATE_512
from .api import FaceRestoration
from .policy import ALIGNED_FACE_FRACTION
from .restorer import FaceRestorer, RestoreResult, create_restorer
from .settings import RestorationSettings

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(FORMATS)
Done = Callable[[Path, str, float], None]  # (output, what happened to its faces, seconds)


class RestoreFailures(PersonframesError):
    """Some images could not be restored (each reported as it was met); exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class Source:
    path: Path
    in_folder: bool  # found in a folder given as input (else named on its own)


@dataclass
class Job:
    source: Source
    dest: Path
    header: ImageHeader


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def collect_inputs(inputs: tuple[Path, ...]) -> list[Source]:
    """Image files, folders expanded (not recursively, sorted)."""
    files: list[Source] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                suffixes = " ".join(sorted(IMAGE_SUFFIXES))
                raise InputError(f"{path}: folder contains no images ({suffixes})")
            files += [Source(p, True) for p in found]
        elif path.is_file():
            files.append(Source(path, False))
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def output_paths(files: list[Path], output_dir: Path) -> list[Path]:
    """Where each input's result goes: its own name (a suffix we cannot write, e.g. .gif,
    becomes .png), refused before any work when it would overwrite an input or another
    input's result."""
    targets: dict[Path, Path] = {}
    for src in files:
        name = src.name if src.suffix.lower() in FORMATS else src.with_suffix(".png").name
        dest = output_dir / name
        if dest.resolve() == src.resolve():
            raise InputError(f"{src}: output would overwrite the input; choose another -o folder")
        if dest in targets:
            raise InputError(
                f"{src}: its output {dest} is also {targets[dest]}'s; restore them separately"
            )
        targets[dest] = src
    return list(targets)


def plan_jobs(inputs: list[Path], output_dir: Path, config: Config, outcome: Outcome) -> list[Job]:
    """Every input's header and output name, checked before any work: a file named on
    its own that is not a usable image stops here (InputError); one found in a folder is
    reported, counted in ``outcome`` and skipped."""
    sources = collect_inputs(tuple(inputs))
    targets = output_paths([s.path for s in sources], output_dir)
    factor = config.restore.upscale
    jobs: list[Job] = []
    for source, dest in zip(sources, targets, strict=True):
        try:
            with pillow_limit_off():  # probe_image applies max_image_pixels itself
                header = probe_image(source.path, config.restore.max_image_pixels)
            check_writable(dest, header.width * factor, header.height * factor)
        except InputError as exc:
            if not source.in_folder:
                raise
            _failed(outcome, source.path, str(exc))
            continue
        jobs.append(Job(source, dest, header))
    return jobs


def _failed(outcome: Outcome, path: Path, reason: str) -> None:
    log.error("%s (skipped)", reason)
    outcome.failed.append((path, reason))


class ImageRestorer:
    """Restores image files with the ``restore``, ``output`` and ``models`` settings of a
    config; nothing is loaded until an image needs it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        m = config.models
        self.session = ModelSession(m.cache_dir)
        self.settings = RestorationSettings.from_config(config)
        self.restorer: FaceRestorer = create_restorer(self.session, self.settings)
        self.faces = FaceRestoration(
            self.session,
            face_detector=m.face_detector,
            confidence=m.confidence,
            max_side=m.detector_max_side,
            coarse_side=m.detector_coarse_side,
        )

    def check_model(self) -> None:
        """A missing or corrupt model file stops here, naming the repair command (its
        files are checked; no engine is loaded)."""
        if self.settings.strength > 0:
            self.restorer.check()

    def restore(self, job: Job) -> list[RestoreResult]:
        """Restore ``job``'s image into ``job.dest``; the faces' results."""
        settings = self.settings
        with pillow_limit_off():  # read_image applies max_image_pixels itself
            image, alpha, info = read_image(job.source.path, self.config.restore.max_image_pixels)
        h, w = image.shape[:2]
        factor = settings.upscale
        if self.config.restore.aligned:
            result = self.restorer.restore_crop(
                image,
                max(h, w) * factor,
                settings.strength,
                landmarks=FFHQ_TEMPLATE_512 * (w / 512.0),
                face_px=max(h, w) * ALIGNED_FACE_FRACTION,
            )
            out_image, results = result.image, [result]
        else:
            report = self.faces.restore(image, settings)
            out_image, results = report.image, [f.result for f in report.faces]
            del report
        del image  # only the result is needed from here: keep the peak memory down
        unchanged = factor == 1 and not any(r.restored for r in results)
        if unchanged and output_format(job.dest) == job.header.format:
            _copy(job.source.path, job.dest)  # nothing changed: the input's own bytes
            return results
        if alpha is not None and alpha.shape != out_image.shape[:2]:
            alpha = lanczos(alpha, (out_image.shape[1], out_image.shape[0]))
        write_like_source(job.dest, out_image, alpha, info)
        return results


def _copy(src: Path, dest: Path) -> None:
    with src.open("rb") as source, atomic_file(dest) as handle:
        shutil.copyfileobj(source, handle, 1 << 20)


def restore_images(
    inputs: list[Path], output_dir: Path, config: Config, on_done: Done | None = None
) -> list[Path]:
    """Restore the faces of ``inputs`` (files, or folders of images) into ``output_dir``
    with the ``restore``, ``output`` and ``models`` settings of ``config``; every header
    and name is checked before any work. Returns the written files; RestoreFailures
    (exit 1) after the last image when some could not be read, InputError (exit 2) when
    none could."""
    outcome = Outcome()
    jobs = plan_jobs(inputs, output_dir, config, outcome)
    ensure_output_dir(output_dir)
    images = ImageRestorer(config)
    if jobs:
        images.check_model()
    for job in jobs:
        start = time.perf_counter()
        try:
            results = images.restore(job)
        except InputError as exc:  # unreadable pixel data (truncated, damaged)
            if len(jobs) == 1 and not outcome.failed:
                raise
            _failed(outcome, job.source.path, str(exc))
            continue
        outcome.written.append(job.dest)
        if on_done is not None:
            summary = ", ".join(_note(r) for r in results) if results else "no faces"
            on_done(job.dest, summary, time.perf_counter() - start)
    if outcome.failed:
        total = len(outcome.failed) + len(outcome.written)
        message = f"{len(outcome.failed)} of {total} images could not be restored (listed above)"
        if not outcome.written:
            raise InputError(message)
        raise RestoreFailures(message)
    return outcome.written


def _note(result: RestoreResult) -> str:
    """One face's outcome in a few words."""
    if result.identity_drift:
        return f"Lanczos: identity drift {result.identity_distance:.2f}"
    if result.fell_back:
        return "fell back to Lanczos"
    if result.restored:
        identity = result.identity_distance
        return f"restored at {result.strength:g}" + (
            "" if identity is None else f", identity distance {identity:.2f}"
        )
    return f"left as is ({result.reason})"
