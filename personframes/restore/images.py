"""Restoring the faces of image files: ``restore_images`` (the ``restore`` command's work).

Each input is read as any Pillow image (:mod:`personframes.image_file`), its faces
restored (:class:`~personframes.restore.api.FaceRestoration`, or one aligned face per
image), and written in the format its output name asks for, into a temporary file
renamed into place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..image_file import FORMATS, check_writable, pillow_limit_off, read_image, write_image
from ..models.catalogue import restoration_model
from ..models.session import ModelSession
from ..output.writer import ensure_output_dir
from ..resize import lanczos
from .align import FFHQ_TEMPLATE_512
from .api import FaceRestoration
from .policy import ALIGNED_FACE_FRACTION
from .restorer import RestoreResult, create_restorer

IMAGE_SUFFIXES = frozenset(FORMATS)
Done = Callable[[Path, str, float], None]  # (output, what happened to its faces, seconds)


def collect_inputs(inputs: tuple[Path, ...]) -> list[Path]:
    """Image files, folders expanded (not recursively, sorted)."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                suffixes = " ".join(sorted(IMAGE_SUFFIXES))
                raise InputError(f"{path}: folder contains no images ({suffixes})")
            files += found
        elif path.is_file():
            files.append(path)
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


def restore_images(
    inputs: list[Path], output_dir: Path, config: Config, on_done: Done | None = None
) -> list[Path]:
    """Restore the faces of ``inputs`` (files, or folders of images) into ``output_dir``
    with the ``restore`` and ``output`` settings of ``config``; every name is checked
    before any work. Returns the written files."""
    settings = config.restore
    strength = config.output.face_restoration_strength
    policy = config.output.face_restoration_policy
    model_id = restoration_model(config.output.face_restoration_model).id
    device = config.models.device
    files = collect_inputs(tuple(inputs))
    targets = output_paths(files, output_dir)  # refuse before any work
    ensure_output_dir(output_dir)
    session = ModelSession(config.models.cache_dir)
    max_drift = config.output.face_restoration_max_drift
    restorer = create_restorer(
        model_id,
        session,
        device,
        fidelity=settings.fidelity,
        policy=policy,
        max_drift=max_drift,
        engine=config.models.restore_engine,
        precision=config.models.precision,
    )
    if strength > 0:
        restorer.load()  # a missing/corrupt model stops here, naming the repair command
    factor = settings.upscale
    m = config.models
    faces = FaceRestoration(
        session,
        face_detector=m.face_detector,
        confidence=m.confidence,
        max_side=m.detector_max_side,
        coarse_side=m.detector_coarse_side,
    )
    for src, dest in zip(files, targets, strict=True):
        start = time.perf_counter()
        with pillow_limit_off():  # read_image applies max_image_pixels itself
            image, alpha, info = read_image(src, settings.max_image_pixels)
        h, w = image.shape[:2]
        check_writable(dest, w * factor, h * factor)
        if settings.aligned:
            result = restorer.restore_crop(
                image,
                max(h, w) * factor,
                strength,
                landmarks=FFHQ_TEMPLATE_512 * (w / 512.0),
                face_px=max(h, w) * ALIGNED_FACE_FRACTION,
            )
            out, notes = result.image, [_note(result)]
        else:
            report = faces.restore(
                image,
                strength,
                model_id,
                device,
                upscale=factor,
                policy=policy,
                fidelity=settings.fidelity,
                max_drift=max_drift,
                engine=config.models.restore_engine,
                precision=config.models.precision,
            )
            out, notes = report.image, [_note(f.result) for f in report.faces]
            del report
        del image  # only the result is needed from here: keep the peak memory down
        if alpha is not None and alpha.shape != out.shape[:2]:
            alpha = lanczos(alpha, (out.shape[1], out.shape[0]))
        write_image(dest, out, alpha, info)
        del out, alpha
        if on_done is not None:
            summary = ", ".join(notes) if notes else "no faces"
            on_done(dest, summary, time.perf_counter() - start)
    return targets


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
