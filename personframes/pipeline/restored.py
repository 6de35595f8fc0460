"""Restored face crops kept between runs, keyed by what made them.

A rerun that changes only how outputs are encoded or captioned (JPEG quality, format,
``--caption``) rewrites every file but restores no face again: the write step finds
each restored crop here, by the crop's pixels, the model, the strength, the policy and
the target size. Images live in ``OUT/.personframes/restored/VIDEO_KEY/KEY.png``
(lossless), their per-face records in the state database. What a finished write step
did not use is removed, so the folder holds one run's faces.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from ..output.safe_paths import read_bytes
from ..output.writer import write_image
from ..state.records import ENGINE_KEY, EngineUsed, RestorationRecord, RestoredEntry
from ..state.video import STATE_DIRNAME
from ..types import Image
from .context import RunContext

FOLDER = "restored"
BEFORE_FOLDER = "before"  # restored faces' crops before restoration, for the review gallery
STEP = "restored"  # the records' step name in the state database
VERSION = (
    2  # 2: identity check; bump when restoration itself changes what it makes of the same inputs
)
_KEY = re.compile(r"^[0-9a-f]{32}$")


def before_folder(video_key: str) -> str:
    """Where the write step keeps restored faces' crops before restoration, relative to
    the output folder: ``.personframes/before/VIDEO_KEY``."""
    return f"{STATE_DIRNAME}/{BEFORE_FOLDER}/{video_key}"


def before_path(video_key: str, file: str) -> str:
    """The crop before restoration of output ``file``: ``NAME.png`` in ``before_folder``."""
    return f"{before_folder(video_key)}/{file.rsplit('.', 1)[0]}.png"


def cache_key(crop: Image, settings: dict[str, Any]) -> str:
    """Hash of the crop's pixels and shape with every setting that changes the result.
    The engine and precision are not in it (the key is needed before the first face
    that needs the model has chosen them): a hit is taken only when its record's engine
    and precision are the video's recorded ones (``made_by_recorded_engine``)."""
    digest = hashlib.sha256()
    digest.update(repr((VERSION, crop.shape, sorted(settings.items()))).encode())
    digest.update(np.ascontiguousarray(crop).data)
    return digest.hexdigest()[:32]


class RestoredCrops:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._records = {entry.key: entry.record for entry in ctx.store.load(STEP, RestoredEntry)}
        self.engines_used: dict[str, EngineUsed] = {
            key: ctx.store.load_one(STEP, key, EngineUsed)
            for key in ctx.store.record_keys(STEP)
            if key.startswith(ENGINE_KEY)
        }

    def made_by_recorded_engine(self, record: RestorationRecord) -> bool:
        """Whether a cached face's record says it was made by no model, or by an engine
        and precision this video records for that model: a cached face made otherwise
        (its video's record lost or replaced) is restored again, so that one video's
        faces never mix two engines' pixels."""
        if not record.engine:
            return True
        made = (record.model, record.engine, record.precision)
        return any((u.model, u.engine, u.precision) == made for u in self.engines_used.values())

    def record_engine(self, used: EngineUsed) -> None:
        """Keep the engine and precision this video's faces are restored with, per model
        and strength (before the first face restored with them is kept)."""
        if self.engines_used.get(used.key) == used:
            return
        self.ctx.store.commit_progress(STEP, 0, [(used.key, 0, used)])
        self.engines_used[used.key] = used

    @property
    def folder(self) -> Path:
        return self.ctx.own_folder(self.ctx.store.folder / FOLDER / self.ctx.video_key)

    def get(self, key: str) -> tuple[Image, RestorationRecord] | None:
        """The image and record stored under ``key``, or None (absent or unreadable)."""
        if key not in self._records:
            return None
        try:  # a link in its place is refused (OutputError), never read
            data = read_bytes(self.ctx.output_dir, self.folder / f"{key}.png")
            if data is None:
                return None
            with PILImage.open(io.BytesIO(data)) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, ValueError):
            return None
        return pixels, self._records[key]

    def put(self, key: str, image: Image, record: RestorationRecord) -> None:
        folder = self.ctx.make_own_folder(self.folder)
        write_image(folder / f"{key}.png", image, "png", 95)
        self.ctx.store.commit_progress(STEP, 0, [(key, 0, RestoredEntry(key=key, record=record))])
        self._records[key] = record

    def keep_only(self, used: set[str]) -> None:
        """Remove the entries not in ``used`` (files named by a key this module made)."""
        store = self.ctx.store
        stale = {k for k in store.record_keys(STEP) if not k.startswith("~")} - used
        store.delete_records(STEP, stale)
        folder = self.folder
        if folder.is_dir():
            for path in folder.iterdir():
                if path.suffix == ".png" and _KEY.match(path.stem) and path.stem not in used:
                    with contextlib.suppress(OSError):
                        path.unlink()

    def forget(self) -> None:
        """Remove every entry of this video (``--force``)."""
        folder = self.folder
        if folder.exists():
            shutil.rmtree(folder, True)
