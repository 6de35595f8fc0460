"""What a step gets to work with: the video, the config, the store, the models, counters."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import Interrupted, StateError
from ..models.session import ModelSession
from ..output.naming import is_plain_file_name
from ..output.safe_paths import make_folders, real_folders, require_real_folder
from ..output.writer import write_image
from ..state.video import VideoState
from ..types import Image
from .fallbacks import REASONS, Fallback

log = logging.getLogger(__name__)

TEMP_DIRNAME = "temp"

ProgressFn = Callable[[str, int, int | None], None]


class StopFlag:
    """Set by SIGINT/SIGTERM; steps check it between frames and stop cleanly.

    ``shared`` is an optional event from a parent process (``--workers``) with
    ``shared_signum`` holding the signal number, so one signal stops every worker.
    """

    def __init__(self, shared: Any = None, shared_signum: Any = None) -> None:
        self._event = threading.Event()
        self._shared = shared
        self._shared_signum = shared_signum
        self.signum = 0

    def attach(self, shared: Any, shared_signum: Any) -> None:
        """Relay this flag to worker processes through a multiprocessing event."""
        self._shared, self._shared_signum = shared, shared_signum

    def set(self, signum: int) -> None:
        self.signum = signum
        self._event.set()
        if self._shared is not None:
            self._shared_signum.value = signum
            self._shared.set()

    def is_set(self) -> bool:
        if self._shared is not None and not self._event.is_set() and self._shared.is_set():
            self.signum = int(self._shared_signum.value)
            self._event.set()
        return self._event.is_set()

    def check(self, where: str) -> None:
        if self._event.is_set():
            name = signal.Signals(self.signum).name if self.signum else "signal"
            raise Interrupted(f"stopped by {name} {where}; progress saved", self.signum or 2)


class FallbackWarnings:
    """Logs each kind of fallback once at WARNING, with its reason.

    The counts in the run summary come from the stored records (so they survive
    a resume); this only keeps the log from repeating one line per frame.
    """

    def __init__(self, video: str) -> None:
        self.video = video
        self._seen: set[str] = set()

    def warn(self, fallback: Fallback, reason: str | None = None, detail: str = "") -> None:
        """Log ``fallback`` (with its standard reason unless ``reason`` is given, and a
        ``detail`` such as the model) once per video and reason."""
        what = f"{fallback.value}{f' ({detail})' if detail else ''}"
        key = f"{what}: {reason if reason is not None else REASONS[fallback]}"
        if key not in self._seen:
            self._seen.add(key)
            log.warning("fallback in %s: %s", self.video, key)


@dataclass
class RunContext:
    video_path: Path
    video_key: str
    stem: str
    """What this video's output names start with (``FolderIndex.claim_stem``)."""
    output_dir: Path
    config: Config
    store: VideoState
    models: ModelSession
    stop: StopFlag
    fallbacks: FallbackWarnings = field(init=False)
    timings: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Seconds per stage spent by this process (a resumed run counts only its own work)."""
    progress: ProgressFn = field(default=lambda step, done, total: None)

    def __post_init__(self) -> None:
        self.fallbacks = FallbackWarnings(self.video_path.name)

    def output_file(self, name: object, folder: object = None) -> Path:
        """``output_dir / name`` for a file name read back from the state database.

        Outputs are written flat in the output folder, so a stored name must be a plain
        file name: one with a separator, ``..``, an absolute path or anything else that
        would lead outside the folder is refused (StateError), never joined.
        """
        if not is_plain_file_name(name):
            raise StateError(
                f"{self.store.path}: a stored output name ({name!r}) is "
                f"not a file name inside {self.output_dir}; the state database was altered. "
                f"Move {self.store.path.parent} aside and run again"
            )
        if folder is None:
            return self.output_dir / str(name)
        if not is_plain_file_name(folder):
            raise StateError(
                f"{self.store.path}: a stored output folder ({folder!r}) is "
                f"not a folder name inside {self.output_dir}; the state database was altered. "
                f"Move {self.store.path.parent} aside and run again"
            )
        return self.output_person_folder(str(folder)) / str(name)

    def output_person_folder(self, folder: str, make: bool = False) -> Path:
        """``output_dir / folder`` (``--group-by-person``; made when ``make``); refused
        when it is a link (which would send the files elsewhere) or a file."""
        path = require_real_folder(
            self.output_dir / folder, "personframes writes a person's files there: remove it"
        )
        if make:
            path.mkdir(exist_ok=True)
        return path

    @property
    def temp_dir(self) -> Path:
        """Where ``--keep-temp`` puts this video's intermediate files."""
        return self.store.folder / TEMP_DIRNAME / self.stem

    def own_folder(self, folder: Path) -> Path:
        """``folder`` (under the state folder), once every folder from there down to it
        is known to be a real folder or absent: never a link that leads elsewhere."""
        folder.relative_to(self.store.folder)  # a caller's mistake otherwise
        return real_folders(self.output_dir, folder)

    def make_own_folder(self, folder: Path) -> Path:
        """``own_folder``, made (each folder on the way checked as it is made)."""
        return make_folders(self.output_dir, self.own_folder(folder))

    def keep_intermediate(self, folder: str, name: str, image: Image) -> None:
        """With ``--keep-temp``, save an intermediate image as ``temp_dir/folder/name.png``."""
        if not self.config.pipeline.keep_temp:
            return
        parent = self.make_own_folder(self.temp_dir / folder)
        write_image(parent / f"{name}.png", image, "png", 95)

    def clear_intermediates(self, folder: str | None = None) -> None:
        """Remove one folder of intermediate files, or (``None``) all of this video's.
        Links inside are removed, never followed (``shutil.rmtree``)."""
        target = self.own_folder(self.temp_dir if folder is None else self.temp_dir / folder)
        if target.exists():
            shutil.rmtree(target, True)
        if folder is None:
            with contextlib.suppress(OSError):  # still holds another video's: keep it
                self.temp_dir.parent.rmdir()
