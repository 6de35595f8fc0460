"""``export_dataset``: pick, place, write; the counts for the summary."""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from ..config import ExportConfig
from ..errors import InputError
from ..output.crops import snap_to_bucket
from ..output.writer import encode_image
from .destination import Destination
from .layouts import Placed, metadata, place
from .sources import pick

BUCKET_LOG = "buckets.csv"

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    dest: Path
    images: int
    people: int
    skipped: Counter[str]
    counts: dict[str, int] = field(default_factory=dict)


def _snapped(placed: Placed, bucket: int) -> tuple[bytes, tuple[int, int], tuple[int, int]]:
    """The image cut to multiples of ``bucket`` (encoded as its own format), its size
    before and after."""
    with PILImage.open(placed.source.path) as image:
        pixels = np.asarray(image.convert("RGB"))
    snapped = snap_to_bucket(pixels, bucket)
    suffix = placed.source.path.suffix.lower().lstrip(".")
    fmt = {"jpeg": "jpg"}.get(suffix, suffix)
    data = encode_image(np.ascontiguousarray(snapped), fmt, 95)
    size = (pixels.shape[1], pixels.shape[0])
    return data, size, (snapped.shape[1], snapped.shape[0])


def _nothing_to_export(settings: ExportConfig, skipped: Counter[str]) -> str:
    """Why an export found nothing to take, in the words a user can act on."""
    unfinished = skipped.get("videos not finished", 0)
    if unfinished and sum(skipped.values()) == unfinished:
        return (
            f"finished video to export yet ({unfinished} still being extracted or "
            "interrupted: let extract finish, or run it again)"
        )
    if settings.include == "accepted":
        return (
            "accepted images to export (accept some in personframes review, or pass "
            "--include unreviewed)"
        )
    return "images to export (nothing but rejected images)"


def export_dataset(
    output_dir: Path, dest: Path, settings: ExportConfig, overwrite_edited: bool = False
) -> ExportResult:
    """Write the chosen images of ``output_dir`` into ``dest`` in ``settings.format``.
    A file changed by hand since the last export wrote it is left as it is (a WARNING,
    counted) unless ``overwrite_edited``."""
    sources, skipped = pick(output_dir, settings)
    if not sources:
        raise InputError(f"{output_dir}: no {_nothing_to_export(settings, skipped)}")
    placed = place(sources, settings)
    target = Destination(dest, output_dir, overwrite_edited)
    if settings.bucket and settings.link:
        log.warning("--bucket cuts every image: they are written as new files, not linked")
    try:
        _write(target, placed, settings)
    except BaseException:
        target.abandon()
        raise
    return ExportResult(
        dest=dest,
        images=len(placed),
        people=len({s.group for s in sources}),
        skipped=skipped,
        counts=dict(target.counts),
    )


def _write(target: Destination, placed: list[Placed], settings: ExportConfig) -> None:
    buckets = io.StringIO()
    if settings.bucket:
        buckets.write("file,width,height,bucket_width,bucket_height\n")
    for item in placed:
        # A clip (.mp4) is copied as it is: its sides are multiples of 16 already.
        if settings.bucket and item.source.entry.get("kind") != "clip":
            data, (w, h), (bw, bh) = _snapped(item, settings.bucket)
            target.put_bytes(item.image, data)
            buckets.write(f'"{item.image}",{w},{h},{bw},{bh}\n')
        else:
            target.put_file(item.image, item.source.path, settings.link)
        if item.caption_file is not None:
            target.put_bytes(item.caption_file, item.caption.encode("utf-8"))
    extra = metadata(placed, settings)
    if extra is not None:
        target.put_bytes(*extra)
    if settings.bucket:
        target.put_bytes(BUCKET_LOG, buckets.getvalue().encode("utf-8"))
    target.finish()
