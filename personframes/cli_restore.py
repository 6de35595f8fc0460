"""`personframes restore INPUT... -o DIR`: restore the faces in images."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, cast

import click

from .config import Device, load_config
from .errors import InputError
from .image_file import FORMATS, check_writable, pillow_limit_off, read_image, write_image
from .models.catalogue import DEFAULT_MODEL, MODEL_IDS, get_model
from .models.session import ModelSession
from .output.writer import ensure_output_dir
from .resize import lanczos
from .restore.align import FFHQ_TEMPLATE_512
from .restore.api import FaceRestoration
from .restore.policy import ALIGNED_FACE_FRACTION, POLICY_NAMES
from .restore.restorer import RestoreResult, create_restorer

log = logging.getLogger("personframes.restore.cli")

IMAGE_SUFFIXES = frozenset(FORMATS)


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


@click.command("restore")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the restored images (never an input's own folder name clash).",
)
@click.option(
    "--upscale",
    type=click.Choice(["1", "2", "4"]),
    default="1",
    show_default=True,
    help="Enlarge the whole image; faces are restored from their native pixels.",
)
@click.option("--aligned", is_flag=True, help="Inputs are aligned 512 px face crops.")
@click.option(
    "--face-restoration-strength",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Most strength the policy may use; 0 = Lanczos only (default 0.8).",
)
@click.option(
    "--face-restoration-policy",
    type=click.Choice(POLICY_NAMES),
    default=None,
    help="auto: restore only faces it helps (default); always: every face.",
)
@click.option(
    "--face-restoration-model",
    type=click.Choice(MODEL_IDS),
    default=None,
    help=f"Model id (default {DEFAULT_MODEL}); see `personframes models list`.",
)
@click.option(
    "--fidelity",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="CodeFormer fidelity weight (0 = quality, 1 = fidelity).",
)
@click.option(
    "--max-image-pixels",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse larger images (default 178956970, about 179 MP).",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default=None)
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def restore(
    inputs: tuple[Path, ...],
    output_dir: Path,
    upscale: str,
    aligned: bool,
    face_restoration_strength: float | None,
    face_restoration_policy: str | None,
    face_restoration_model: str | None,
    fidelity: float,
    max_image_pixels: int | None,
    device: str | None,
    config_file: Path | None,
    cache_dir: Path | None,
) -> None:
    """Restore the faces in INPUT images (files or folders) into -o DIR."""
    overrides: dict[str, dict[str, Any]] = {
        "output": {
            "face_restoration_strength": face_restoration_strength,
            "face_restoration_policy": face_restoration_policy,
            "face_restoration_model": face_restoration_model,
        },
        "models": {"device": device, "cache_dir": cache_dir},
        "restore": {"max_image_pixels": max_image_pixels},
    }
    cli = {k: {f: v for f, v in fields.items() if v is not None} for k, fields in overrides.items()}
    config = load_config(config_file, cli)
    strength = config.output.face_restoration_strength
    policy = config.output.face_restoration_policy
    model_id = get_model(config.output.face_restoration_model).id
    dev = cast(Device, config.models.device)
    files = collect_inputs(inputs)
    targets = output_paths(files, output_dir)  # refuse before any work
    ensure_output_dir(output_dir)

    session = ModelSession(config.models.cache_dir)
    restorer = create_restorer(model_id, session, dev, fidelity=fidelity, policy=policy)
    if strength > 0:
        restorer.load()  # a missing/corrupt model stops here, naming the repair command
    factor = int(upscale)
    m = config.models
    faces = FaceRestoration(
        session,
        face_detector=m.face_detector,
        confidence=m.confidence,
        max_side=m.detector_max_side,
    )
    for src, dest in zip(files, targets, strict=True):
        start = time.perf_counter()
        with pillow_limit_off():  # read_image applies max_image_pixels itself
            image, alpha, info = read_image(src, config.restore.max_image_pixels)
        h, w = image.shape[:2]
        check_writable(dest, w * factor, h * factor)
        if aligned:
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
                dev,
                upscale=factor,
                policy=policy,
                fidelity=fidelity,
            )
            out, notes = report.image, [_note(f.result) for f in report.faces]
            del report
        del image  # only the result is needed from here: keep the peak memory down
        if alpha is not None and alpha.shape != out.shape[:2]:
            alpha = lanczos(alpha, (out.shape[1], out.shape[0]))
        write_image(dest, out, alpha, info)
        del out, alpha
        summary = ", ".join(notes) if notes else "no faces"
        click.echo(f"{dest} ({summary}; {time.perf_counter() - start:.1f} s)", err=True)


def _note(result: RestoreResult) -> str:
    """One face's outcome in a few words."""
    if result.fell_back:
        return "fell back to Lanczos"
    if result.restored:
        return f"restored at {result.strength:g}"
    return f"left as is ({result.reason})"
