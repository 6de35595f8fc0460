"""Test helpers: where the shared data lives, small synthetic videos, running the CLI."""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TextIO

import av
import numpy as np
from click import formatting
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
VIDEOS = SHARED / "videos"
LABELS = SHARED / "labels"
IMAGES = SHARED / "images"


def state_db(out: Path) -> Path:
    """The state database of the one video processed into ``out``."""
    found = sorted(out.glob(".personframes/videos/*/state.sqlite"))
    assert len(found) == 1, f"{len(found)} video state databases in {out}"
    return found[0]


def labels(video: str) -> list[dict[str, str]]:
    with (LABELS / f"{video}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m personframes`` as a user would, in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "personframes", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def run_cli_in_process(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in this process, for a case that ends at validation (a bad option,
    config value or path, exit 2 before any video, image or model is opened): no new
    interpreter and no import of the package per run.

    It calls what the ``personframes`` console script calls (``personframes.entry.main``
    calls ``personframes.cli.main``: click in ``standalone_mode=False`` and the one
    top-level mapping of errors to a line and an exit code) inside click's
    ``CliRunner`` isolation (stdout, stderr and ``os.environ`` replaced), and gives
    what ``run_cli`` gives. ``env`` as in ``run_cli``: every ``PERSONFRAMES_*`` variable
    of the test process is removed. Warnings are shown as a fresh interpreter shows
    them (to stderr, Python's default filters), not collected by pytest; the
    ``personframes`` logger is put back as it was (what the package puts in
    ``os.environ`` when imported stays, as after any import of it in the tests).

    Not for what only a process shows: signals and kills, mounts, bytes that are not
    UTF-8 on stdout or stderr, what native libraries (the decoder, onnxruntime) write
    to file descriptor 2, what a process imports or how long it takes to start."""
    from personframes.cli import main  # what personframes.entry.main runs

    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PERSONFRAMES_")}
    clean.update(env or {})
    code: int | str | None = 0
    with _logger_kept(), _runner().isolation(env=clean) as streams:
        stdout, stderr = streams[0], streams[1]  # click 8.2+ adds a third, both mixed
        formatting.FORCED_WIDTH = _child_help_width()  # the runner forces 80; put back on exit
        with warnings.catch_warnings():
            _as_a_fresh_interpreter_warns()
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code
            except Exception:  # escaped the top-level catch (PERSONFRAMES_DEBUG re-raises)
                traceback.print_exc()
                code = 1
        if isinstance(code, str):  # as the interpreter does with sys.exit("message")
            print(code, file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        # Decoded as run_cli decodes: text that is not UTF-8 raises UnicodeDecodeError.
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    return subprocess.CompletedProcess(list(args), code or 0, out, err)


def _runner() -> CliRunner:
    """Click's runner with stderr apart from stdout (click 8.1 mixes them unless told)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:  # click 8.2+: always apart
        return CliRunner()


def _child_help_width() -> int:
    """The width click wraps usage and help to in a child whose stdout is a pipe (as
    ``run_cli``'s): from ``COLUMNS``, else the fallback of 80 columns."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    return max(min(columns if columns > 0 else 80, 80) - 2, 50)


@contextmanager
def _logger_kept() -> Iterator[None]:
    """The ``personframes`` logger as it was: ``setup_logging`` gives it a handler on the
    run's stderr (closed after the run) and stops it propagating (to pytest's caplog)."""
    logger = logging.getLogger("personframes")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        yield
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _as_a_fresh_interpreter_warns() -> None:
    """Python's default warning filters and display (pytest records warnings instead)."""
    warnings.resetwarnings()
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


def make_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    rate: int = 10,
    rotation: int | None = None,
    times: list[float] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames into ``path``. ``times`` (seconds) makes variable frame rate;
    ``options`` go to the encoder (e.g. ``{"g": "8"}``: a keyframe every 8 frames)."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if times is not None:
            stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if times is not None:
                frame.pts = round(times[i] * 1000)
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_square_frames(count: int, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """Frames that differ visibly from each other (a square moving across a gradient)."""
    frames = []
    blocks = np.random.default_rng(7).integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
    for i in range(count):
        image = base.copy()
        x = (i * 7) % (width - 16)
        image[8:24, x : x + 16] = 255
        frames.append(image)
    return frames


def files_in(folder: Path) -> list[str]:
    """Visible files the tool wrote (the hidden state folder excluded)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".personframes"))


def make_audio_only(path: Path) -> Path:
    """A short silent AAC file: a container with no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path
