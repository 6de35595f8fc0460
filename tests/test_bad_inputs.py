"""Every bad input a new user can give, as one table, run through the real CLI.

Each case builds its inputs in a fresh folder, runs ``python -m personframes ...`` in a
subprocess (``tests/util.py`` ``run_cli``; the working directory is an empty folder of the
case and ``XDG_CACHE_HOME`` points into the case, so a stray write shows up) and asserts
what follows. The cases written ``refused(...)`` end at validation (exit 2 before any
video, image or model is opened; file names of printable ASCII): they run the same entry
point in this process instead (``run_cli_in_process``: click's runner around
``personframes.cli.main``, the console script's own error mapping), which saves starting
an interpreter per case; a spy fails such a case if it opens a video, an image or a
model (then it belongs in a subprocess, where what native libraries print is seen).

1. **Exit code**: 2 for bad input, usage or configuration; 1 for processing, state or
   model failures (a full disk, a state database that is not one); 130 for SIGINT
   (143 for SIGTERM); 0 where the input is fine.

2. **stderr**: never ``Traceback``, never ``internal error``. An error is exactly one
   non-blank line starting with ``personframes: error:`` that names what is wrong (each
   case lists the words it must contain; ``a|b`` means either). The one exception:
   values click itself refuses while parsing the command line (a value of the wrong
   type, outside an ``IntRange``, not one of a ``Choice``, an unknown option, a missing
   argument) print click's standard usage block::

       Usage: personframes extract [OPTIONS] INPUTS...
       Try 'personframes extract --help' for help.

       Error: Invalid value for '--max-frames': 0 is not in the range x>=1.

   That block (a ``Usage:`` line, with its indented continuation lines where click wraps
   a long one, an optional ``Try ...`` line, exactly one ``Error:`` line and nothing
   else) is accepted only for the cases marked ``usage=True``: those
   click rejects, and those (nan, inf, 0, -1 ...) that click could reject with a
   stricter parameter type rather than the configuration check. A processing failure
   (exit 1) may be preceded by the run's own log lines (``personframes: INFO: ...``,
   ``personframes: WARNING: ...``) since it did work before failing; a rejected input
   (exit 2) and an interrupt may not. An interrupt is one line starting with
   ``personframes:`` (SIGINT: containing "interrupted"). A run that succeeds prints no
   error line.

3. **Files**: nothing is written outside OUT (every file and folder of the case outside
   OUT, inputs and config files included, is byte for byte what it was, and nothing new
   appears). OUT starts with the files of an "earlier run" (``earlier_frame.jpg``,
   ``earlier_info.json``; a few cases start without OUT); whatever was in OUT before is
   byte for byte the same after, and no ``.pf-tmp-*`` file is left anywhere under OUT.
   A rejected input (exit 2) leaves OUT exactly as it was: no ``.personframes`` state
   folder, no images, no partial files (OUT may have been created, empty). A processing
   failure or an interrupt may leave complete outputs and the state folder, to resume.
   Libraries the program loads count too: a file onnxruntime writes into the user's
   cache is a write outside OUT.

A failing case lists every problem it found (exit code, stderr, files) at once, then the
exit code and stderr. The signal cases send SIGINT or SIGTERM 0.3 s after spawning
``python -m personframes extract ...`` (while it is still importing) and expect 130 or
143 and one line.

``models`` commands use OUT as the model cache folder. The read-only and full output
folders are tmpfs mounts made in a private mount namespace (``unshare -m``, or
``unshare -rm`` when not root) for the one command; what the command left in OUT is
copied out before the namespace ends. Where no mount namespace can be made the case is
skipped with the reason.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from .util import (
    IMAGES,
    VIDEOS,
    make_audio_only,
    make_video,
    moving_square_frames,
    run_cli,
    run_cli_in_process,
)

USAGE_ERROR = re.compile(r"^Error: ")
LOG_LINE = re.compile(r"^personframes: (DEBUG|INFO|WARNING): ")
PORTRAIT = IMAGES / "whole" / "lowres_portrait_b.jpg"
REAL_VIDEO = VIDEOS / "stage_performer.mp4"


def _seed_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# The files of an "earlier run" each case starts OUT with (they must come out untouched).
SEEDS = {"earlier_info.json": b'{"from": "an earlier run"}\n', "earlier_frame.jpg": _seed_jpeg()}


# -- media made once per module ------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_only(width: int, height: int, colour_type: int = 0) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but holds almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def png_with_bad_chunk(image: Image.Image) -> bytes:
    """A PNG whose pixel data is split over two chunks, the second with a type that is not
    four letters (what a flipped byte does): Pillow raises SyntaxError while decoding."""
    data = _encode(image, "PNG")
    start = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[start : start + 4])
    pixels = data[start + 8 : start + 8 + length]
    half = len(pixels) // 2
    return (
        data[:start]
        + _png_chunk(b"IDAT", pixels[:half])
        + _png_chunk(b"\x34\xef\x0e\xb2", pixels[half:])
        + data[start + 12 + length :]
    )


def remux_faststart(src: Path, dst: Path) -> Path:
    """Copy ``src``'s video packets into an MP4 with the index (moov) before the data."""
    with (
        av.open(str(src)) as inp,
        av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out,
    ):
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            out.mux(packet)
    data = dst.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "remux did not put the index first"
    return dst


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Source files the cases copy from (made once; cases never touch these)."""
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(11)
    found: dict[str, Path] = {}
    found["no_people"] = make_video(root / "no_people.mp4", moving_square_frames(10))
    noise = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(24)]
    found["noise"] = make_video(root / "noise.mp4", noise, options={"g": "8"})
    data = found["noise"].read_bytes()
    assert data.find(b"mdat") < data.find(b"moov"), "expected the index at the end"
    found["noise_faststart"] = remux_faststart(found["noise"], root / "noise_faststart.mp4")
    found["audio"] = make_audio_only(root / "voice.mp4")
    with av.open(str(root / "no_frames.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # a header and an empty video track, no frames
    found["no_frames"] = root / "no_frames.mp4"

    portrait = Image.open(PORTRAIT).convert("RGB")
    images = {
        "portrait.png": _encode(portrait, "PNG"),
        "one_pixel.png": _encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"),
        "cmyk.jpg": _encode(portrait.convert("CMYK"), "JPEG", quality=95),
        "rgba.png": _encode(portrait.convert("RGBA"), "PNG"),
        "palette.png": _encode(portrait.convert("P"), "PNG"),
    }
    grey = np.asarray(portrait.convert("L"), dtype=np.uint16) * 257
    images["grey16.png"] = _encode(Image.fromarray(grey), "PNG")
    exif = Image.Exif()
    exif[0x0112] = 9  # Orientation: 1..8 are defined; 9 is not
    images["bad_orientation.jpg"] = _encode(portrait, "JPEG", quality=90, exif=exif.tobytes())
    jpeg = (IMAGES / "whole" / "lowres_portrait_a.jpg").read_bytes()
    images["truncated.jpg"] = jpeg[: len(jpeg) // 2]
    png = images["portrait.png"]
    images["truncated.png"] = png[: len(png) // 2]
    images["bad_chunk.png"] = png_with_bad_chunk(portrait)
    images["bomb.png"] = png_header_only(20000, 20000)
    images["big_header.png"] = png_header_only(9500, 9500)  # over the warning limit only
    images["zero_width.png"] = png_header_only(0, 64)
    for name, blob in images.items():
        (root / name).write_bytes(blob)
        found[name] = root / name
    return found


# -- one case's world ----------------------------------------------------------------------
@dataclass
class World:
    """The folders of one case: inputs, OUT, and the paths the checks look at."""

    tmp: Path
    media: dict[str, Path]
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.inp = self.tmp / "in"
        self.out = self.tmp / "out"
        self.cwd = self.tmp / "cwd"
        self.harness = self.tmp / "harness"  # the test's own files (namespace runs)
        for folder in (self.inp, self.cwd, self.tmp / "xdg-cache"):
            folder.mkdir()
        self.env["XDG_CACHE_HOME"] = str(self.tmp / "xdg-cache")
        # The engine named: with this fresh cache, "auto" would measure the engines in
        # every case (test_engine_choice checks that doing so writes nothing).
        self.env["PERSONFRAMES_MODELS__RESTORE_ENGINE"] = "ncnn"

    def copy(self, key: str, name: str | None = None) -> Path:
        """A copy of a made file in the input folder."""
        dest = self.inp / (name or self.media[key].name)
        shutil.copyfile(self.media[key], dest)
        return dest

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.inp / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path


Build = Callable[[World], list[Any]]
Check = Callable[[World, subprocess.CompletedProcess[str]], None]


@dataclass(frozen=True)
class Case:
    build: Build
    code: int
    mentions: tuple[str, ...] = ()
    usage: bool = False
    seed: bool = True
    out_exists: bool = True  # OUT is a folder before the run (seeded or empty)
    check: Check | None = None
    mount: str | None = None  # shell run in a private mount namespace first ($PF_OUT)
    send: tuple[float, int] | None = None  # (seconds after spawn, signal)
    timeout: float = 120
    set_aside: str | None = None  # an entry of OUT the run must rename aside, intact
    in_process: bool = False  # ends at validation: run in this process (see the docstring)


def case(id: str, build: Build, code: int, *mentions: str, **kw: Any) -> Any:
    return pytest.param(Case(build, code, tuple(mentions), **kw), id=id)


def refused(id: str, build: Build, *mentions: str, **kw: Any) -> Any:
    """A case refused at validation (exit 2) before any video, image or model is opened."""
    return case(id, build, 2, *mentions, in_process=True, **kw)


# -- builders ------------------------------------------------------------------------------
FAST = ["--no-face-restoration"]


def extract(ws: World, *inputs: Any, extra: tuple[Any, ...] = ()) -> list[Any]:
    return ["extract", *inputs, "-o", ws.out, *FAST, *extra]


def video_file(key: str, name: str | None = None) -> Build:
    return lambda ws: extract(ws, ws.copy(key, name))


def data_file(name: str, data: bytes | str) -> Build:
    return lambda ws: extract(ws, ws.write(name, data))


def cut(key: str, percent: int, name: str) -> Build:
    def build(ws: World) -> list[Any]:
        data = ws.media[key].read_bytes()
        return extract(ws, ws.write(name, data[: len(data) * percent // 100]))

    return build


def scribble(key: str, start: float, stop: float, name: str) -> Build:
    """Overwrite bytes ``start``..``stop`` (fractions of the size) with random bytes."""

    def build(ws: World) -> list[Any]:
        data = bytearray(ws.media[key].read_bytes())
        a, b = int(len(data) * start), int(len(data) * stop)
        data[a:b] = np.random.default_rng(5).integers(0, 256, b - a, dtype=np.uint8).tobytes()
        return extract(ws, ws.write(name, bytes(data)))

    return build


def with_options(*options: str) -> Build:
    return lambda ws: extract(ws, ws.copy("no_people"), extra=options)


def with_env(**env: str) -> Build:
    def build(ws: World) -> list[Any]:
        ws.env.update(env)
        return extract(ws, ws.copy("no_people"))

    return build


def with_config(text: str | bytes, name: str = "config.yaml") -> Build:
    def build(ws: World) -> list[Any]:
        path = ws.tmp / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return extract(ws, ws.copy("no_people"), extra=("--config", path))

    return build


# Inputs restore must refuse are refused whatever the model: these cases run with strength
# 0 (Lanczos only), which skips loading the model (restore loads it before reading inputs).
LANCZOS = ("--face-restoration-strength", "0")


def restore(key: str, *extra: str) -> Build:
    return lambda ws: ["restore", ws.copy(key), "-o", ws.out, *extra]


def restore_data(name: str, data: bytes | str) -> Build:
    return lambda ws: ["restore", ws.write(name, data), "-o", ws.out, *LANCZOS]


# -- builders that need more than one line -------------------------------------------------
def build_missing(ws: World) -> list[Any]:
    return extract(ws, ws.inp / "nope.mp4")


def build_symlink_loop(ws: World) -> list[Any]:
    (ws.inp / "a.mp4").symlink_to("b.mp4")
    (ws.inp / "b.mp4").symlink_to("a.mp4")
    return extract(ws, ws.inp / "a.mp4")


def build_dangling_symlink(ws: World) -> list[Any]:
    (ws.inp / "gone.mp4").symlink_to(ws.tmp / "deleted.mp4")
    return extract(ws, ws.inp / "gone.mp4")


def build_folder_with_loop(ws: World) -> list[Any]:
    folder = ws.inp / "clips"
    folder.mkdir()
    shutil.copyfile(ws.media["no_people"], folder / "clip.mp4")
    (folder / "again").symlink_to(".")
    return extract(ws, folder)


def build_folder_without_videos(ws: World) -> list[Any]:
    folder = ws.inp / "holiday"
    folder.mkdir()
    (folder / "readme.txt").write_text("no videos here")
    (folder / "photo.jpg").write_bytes(SEEDS["earlier_frame.jpg"])
    return extract(ws, folder)


def build_empty_folder(ws: World) -> list[Any]:
    (ws.inp / "empty").mkdir()
    return extract(ws, ws.inp / "empty")


def build_folder_named_mp4(ws: World) -> list[Any]:
    (ws.inp / "clip.mp4").mkdir()
    return extract(ws, ws.inp / "clip.mp4")


def build_fifo(ws: World) -> list[Any]:
    os.mkfifo(ws.inp / "pipe.mp4")
    return extract(ws, ws.inp / "pipe.mp4")


def build_non_utf8_name(ws: World) -> list[Any]:
    path = ws.inp / os.fsdecode(b"clip\xff\xfe.mp4")
    path.write_text("not a video\n")
    return extract(ws, path)


def build_output_is_file(ws: World) -> list[Any]:
    ws.out.write_text("a file where the output folder should be\n")
    return extract(ws, ws.copy("no_people"))


def build_output_under_file(ws: World) -> list[Any]:
    ws.out.write_text("a file where a folder should be\n")
    return ["extract", ws.copy("no_people"), "-o", ws.out / "sub", *FAST]


def build_output_in_proc(ws: World) -> list[Any]:
    args = extract(ws, ws.copy("no_people"))
    args[args.index("-o") + 1] = "/proc/personframes-cannot-write-here"
    return args


def build_output_empty_string(ws: World) -> list[Any]:
    args = extract(ws, ws.copy("no_people"))
    args[args.index("-o") + 1] = ""
    return args


def build_real_video(ws: World) -> list[Any]:
    return ["extract", REAL_VIDEO, "-o", ws.out, *FAST, "--max-frames", "3"]


def build_full_disk(ws: World) -> list[Any]:
    return [*build_real_video(ws), "--output-format", "png"]


def build_state_is_file(ws: World) -> list[Any]:
    (ws.out / ".personframes").write_text("not a folder\n")
    return extract(ws, ws.copy("no_people"))


def build_state_garbage(ws: World) -> list[Any]:
    (ws.out / ".personframes").mkdir()
    garbage = np.random.default_rng(3).integers(0, 256, 8192, dtype=np.uint8).tobytes()
    (ws.out / ".personframes" / "state.sqlite").write_bytes(garbage)
    return extract(ws, ws.copy("no_people"))


def build_log_under_file(ws: World) -> list[Any]:
    (ws.tmp / "blocker").write_text("a file\n")
    return extract(ws, ws.copy("no_people"), extra=("--log-file", ws.tmp / "blocker" / "run.log"))


def build_config_output_dir_nul(ws: World) -> list[Any]:
    """No -o: the output folder is the config's, a path with a NUL byte in it."""
    (ws.tmp / "config.yaml").write_text('output:\n  output_dir: "o\\0x"\n')
    return ["extract", ws.copy("no_people"), *FAST, "--config", ws.tmp / "config.yaml"]


def build_config_directory(ws: World) -> list[Any]:
    (ws.tmp / "conf.d").mkdir()
    return extract(ws, ws.copy("no_people"), extra=("--config", ws.tmp / "conf.d"))


def build_config_missing(ws: World) -> list[Any]:
    return extract(ws, ws.copy("no_people"), extra=("--config", ws.tmp / "missing.yaml"))


def build_no_inputs(ws: World) -> list[Any]:
    return ["extract", "-o", ws.out, *FAST]


def build_restore_missing(ws: World) -> list[Any]:
    return ["restore", ws.inp / "nope.jpg", "-o", ws.out, *LANCZOS]


def build_restore_folder_without_images(ws: World) -> list[Any]:
    (ws.inp / "docs").mkdir()
    (ws.inp / "docs" / "notes.txt").write_text("no images\n")
    return ["restore", ws.inp / "docs", "-o", ws.out, *LANCZOS]


def build_restore_out_under_file(ws: World) -> list[Any]:
    (ws.tmp / "blocker").write_text("a file\n")
    return ["restore", ws.copy("portrait.png"), "-o", ws.tmp / "blocker" / "restored", *LANCZOS]


def build_restore_out_is_file(ws: World) -> list[Any]:
    ws.out.write_text("a file where the output folder should be\n")
    return ["restore", ws.copy("portrait.png"), "-o", ws.out, *LANCZOS]


def build_restore_out_in_proc(ws: World) -> list[Any]:
    return [
        "restore",
        ws.copy("portrait.png"),
        "-o",
        "/proc/personframes-cannot-write-here",
        *LANCZOS,
    ]


def build_restore_into_own_folder(ws: World) -> list[Any]:
    ws.inp = ws.out  # the photo lives in OUT: it must come out untouched
    return ["restore", ws.copy("portrait.png"), "-o", ws.out, *LANCZOS]


def build_restore_bad_config(ws: World) -> list[Any]:
    (ws.tmp / "config.yaml").write_text("output: [unclosed\n")
    return [*restore("portrait.png")(ws), "--config", ws.tmp / "config.yaml"]


def build_restore_env(ws: World) -> list[Any]:
    ws.env["PERSONFRAMES_OUTPUT__FACE_RESTORATION_STRENGTH"] = "2"
    return restore("portrait.png")(ws)


def models_cmd(*words: str, cache: str = "out") -> Build:
    def build(ws: World) -> list[Any]:
        if cache in ("file", "under-file"):
            ws.out.write_text("a file where the model cache should be\n")
        where = ws.out / "sub" if cache == "under-file" else ws.out
        return ["models", *words, "--cache-dir", where]

    return build


def env_cache_file(*words: str) -> Build:
    """PERSONFRAMES_CACHE_DIR names a file (click does not see it: it is no option)."""

    def build(ws: World) -> list[Any]:
        ws.out.write_text("a file where the model cache should be\n")
        ws.env["PERSONFRAMES_CACHE_DIR"] = str(ws.out)
        return ["models", *words]

    return build


def build_fetch_env_cache(ws: World) -> list[Any]:
    ws.env["PERSONFRAMES_CACHE_DIR"] = str(ws.out)
    return ["models", "fetch", "gfpgan-v1.4"]


# -- extra checks for runs that succeed ----------------------------------------------------
def manifests(ws: World) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(ws.out.glob("*_info.json"))]


def one_manifest_no_outputs(stem: str) -> Check:
    def check(ws: World, result: subprocess.CompletedProcess[str]) -> None:
        path = ws.out / f"{stem}_info.json"
        assert path.is_file(), f"no manifest {path.name}; OUT holds {sorted(os.listdir(ws.out))}"
        info = json.loads(path.read_text())
        assert info["outputs"] == [], info["outputs"]
        new = [p for p in os.listdir(ws.out) if p not in SEEDS and p != ".personframes"]
        assert new == [path.name], f"expected only the manifest, found {new}"

    return check


def restored_like(name: str, reference: Callable[[World], np.ndarray], tolerance: float) -> Check:
    """The restored image has the input's size and (mean abs difference) its content."""

    def check(ws: World, result: subprocess.CompletedProcess[str]) -> None:
        path = ws.out / name
        assert path.is_file(), f"{name} not written; stderr: {result.stderr}"
        if path.read_bytes() == ws.media[name].read_bytes():
            return  # nothing restored: the input's own bytes, exactly its content
        got = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
        want = np.asarray(reference(ws), dtype=np.float32)
        assert got.shape == want.shape, (got.shape, want.shape)
        diff = float(np.abs(got - want).mean())
        assert diff <= tolerance, (
            f"{name}: mean difference {diff:.1f} grey levels from the input "
            f"(output mean {got.mean():.1f}, input mean {want.mean():.1f})"
        )

    return check


def source_rgb(key: str) -> Callable[[World], np.ndarray]:
    return lambda ws: np.asarray(Image.open(ws.media[key]).convert("RGB"))


def grey16_as_rgb(ws: World) -> np.ndarray:
    grey = np.asarray(Image.open(ws.media["grey16.png"]), dtype=np.float32) / 257.0
    return np.repeat(grey[..., None], 3, axis=2)


# -- the table -----------------------------------------------------------------------------
SAMPLE = "sample-interval|sample_interval"
HOW_FAR = r"re:(truncat|incomplete|ends early|cut short).*(frame \d+|\d+ frames|\d+(\.\d+)? ?s\b)"
ENV = "environment|PERSONFRAMES_"
SIGINT, SIGTERM = int(signal.SIGINT), int(signal.SIGTERM)
TMPFS = 'mount -t tmpfs -o size={size} tmpfs "$PF_OUT" && cp -a "$PF_SEED"/. "$PF_OUT"/'
READ_ONLY = TMPFS.format(size="1m") + ' && mount -o remount,ro "$PF_OUT"'

CASES = [
    # -- the video files -------------------------------------------------------------------
    refused("missing-file", build_missing, "nope.mp4: no such file"),
    refused("missing-file-new-out", build_missing, "nope.mp4", seed=False, out_exists=False),
    refused("zero-byte-video", data_file("empty.mp4", b""), "empty.mp4: file is empty"),
    case(
        "text-file-named-mp4",
        data_file("notes.mp4", "not a video\n" * 20),
        2,
        "notes.mp4: not a readable video",
    ),
    case("truncated-moov-at-end-30pct", cut("noise", 30, "cut.mp4"), 2, "cut.mp4"),
    case("truncated-moov-at-end-70pct", cut("noise", 70, "cut.mp4"), 2, "cut.mp4"),
    case(
        "truncated-faststart-30pct",
        cut("noise_faststart", 30, "short.mp4"),
        2,
        "short.mp4",
        HOW_FAR,
    ),
    case(
        "truncated-faststart-70pct",
        cut("noise_faststart", 70, "short.mp4"),
        2,
        "short.mp4",
        HOW_FAR,
    ),
    case("random-bytes-mid-file", scribble("noise", 0.4, 0.6, "damaged.mp4"), 2, "damaged.mp4"),
    case(
        "random-bytes-mid-file-faststart",
        scribble("noise_faststart", 0.4, 0.6, "damaged.mp4"),
        2,
        "damaged.mp4",
    ),
    case("random-bytes-in-index", scribble("noise", 0.997, 1.0, "index.mp4"), 2, "index.mp4"),
    case(
        "audio-only",
        video_file("audio", "voice.mp4"),
        2,
        "voice.mp4: no video stream (contains audio)",
    ),
    case(
        "video-stream-without-frames",
        video_file("no_frames"),
        2,
        "no_frames.mp4",
        "frames|no video",
    ),
    case("no-people", video_file("no_people"), 0, check=one_manifest_no_outputs("no_people")),
    case(
        "unicode-file-name",
        video_file("no_people", "Ünïcødé vidéo 名前.mp4"),
        0,
        check=one_manifest_no_outputs("Ünïcødé vidéo 名前"),
    ),
    case(
        "spaces-in-file-name",
        video_file("no_people", "my holiday  clip .mp4"),
        0,
        check=one_manifest_no_outputs("my holiday  clip "),
    ),
    case("unicode-name-zero-byte", data_file("vidéo 名前.mp4", b""), 2, "vidéo 名前.mp4"),
    case("newline-in-file-name", data_file("two\nlines.mp4", "text\n"), 2, "two\\nlines.mp4"),
    case("newline-in-missing-name", lambda ws: extract(ws, ws.inp / "a\nb.mp4"), 2, "b.mp4"),
    case("non-utf8-file-name", build_non_utf8_name, 2, "clip"),
    refused("symlink-loop", build_symlink_loop, "a.mp4", "link|loop"),
    refused("dangling-symlink", build_dangling_symlink, "gone.mp4", "no such file|link"),
    case(
        "folder-with-symlink-loop",
        build_folder_with_loop,
        0,
        check=one_manifest_no_outputs("clip"),
        timeout=60,
    ),
    refused(
        "folder-without-videos",
        build_folder_without_videos,
        "holiday: directory contains no video files",
    ),
    refused("empty-folder", build_empty_folder, "empty", "no video"),
    refused("folder-named-mp4", build_folder_named_mp4, "clip.mp4"),
    # Refused at validation, yet a subprocess: its timeout ends a run that would block
    # reading the pipe, which in this process would hang the session.
    case("fifo-named-mp4", build_fifo, 2, "pipe.mp4", "not a regular file", timeout=30),
    refused("dev-null-as-video", lambda ws: extract(ws, "/dev/null"), "/dev/null"),
    # -- where the output goes -------------------------------------------------------------
    refused("output-is-a-file", build_output_is_file, "{out}", seed=False, out_exists=False),
    refused("output-under-a-file", build_output_under_file, "{out}", seed=False, out_exists=False),
    case(
        "output-cannot-be-created",
        build_output_in_proc,
        2,
        "/proc/personframes-cannot-write-here",
        seed=False,
        out_exists=False,
    ),
    refused("output-empty-path", build_output_empty_string, "output", seed=False),
    case(
        "output-read-only",
        video_file("no_people"),
        2,
        "{out}",
        "output directory is not writable",
        mount=READ_ONLY,
    ),
    case(
        "output-full",
        build_full_disk,
        1,
        "no space left",
        mount=TMPFS.format(size="200k"),
        timeout=180,
    ),
    refused("state-folder-is-a-file", build_state_is_file, ".personframes"),
    case(
        "state-database-garbage",
        build_state_garbage,
        0,
        set_aside=".personframes/state.sqlite",
        check=one_manifest_no_outputs("no_people"),
    ),
    refused("log-file-under-a-file", build_log_under_file, "run.log"),
    # -- configuration files ---------------------------------------------------------------
    refused("config-not-yaml", with_config("sampling: [unclosed\n  - {\n"), "config.yaml"),
    refused("config-yaml-list", with_config("- sampling\n- output\n"), "config.yaml", "mapping"),
    refused("config-yaml-scalar", with_config("42\n"), "config.yaml"),
    refused("config-unknown-section", with_config("colour:\n  hue: 3\n"), "config.yaml", "colour"),
    refused(
        "config-unknown-key",
        with_config("sampling:\n  sample_intervall: 1\n"),
        "config.yaml",
        "sample_intervall",
    ),
    refused(
        "config-wrong-type",
        with_config("output:\n  jpg_quality: high\n"),
        "config.yaml",
        "jpg_quality",
    ),
    refused(
        "config-out-of-range",
        with_config("output:\n  jpg_quality: 500\n"),
        "config.yaml",
        "jpg_quality",
    ),
    refused(
        "config-nan",
        with_config("sampling:\n  sample_interval: .nan\n"),
        "config.yaml",
        "sample_interval",
    ),
    refused(
        "config-inf",
        with_config("sampling:\n  sample_interval: .inf\n"),
        "config.yaml",
        "sample_interval",
    ),
    refused(
        "config-negative-interval",
        with_config("sampling:\n  sample_interval: -1\n"),
        "config.yaml",
        "sample_interval",
    ),
    refused("config-bad-enum", with_config("output:\n  format: gif\n"), "config.yaml", "format"),
    refused(
        "config-bool-garbage",
        with_config("output:\n  face_crops: maybe\n"),
        "config.yaml",
        "face_crops",
    ),
    refused("config-section-not-mapping", with_config("sampling: 5\n"), "config.yaml", "sampling"),
    refused(
        "config-min-above-max",
        with_config("selection:\n  min_frames_per_category: 9\n  max_frames_per_category: 2\n"),
        "config.yaml",
        "min_frames_per_category",
    ),
    case("config-empty-file", with_config(""), 0, check=one_manifest_no_outputs("no_people")),
    refused(
        "config-nan-unbounded-field",
        with_config("pose:\n  standing_min_angle: .nan\n"),
        "config.yaml",
        "standing_min_angle",
    ),
    refused(
        "config-key-with-newline",
        with_config('sampling:\n  "max\\nframes": 3\n'),
        "config.yaml",
        "frames",
    ),
    refused(
        "config-output-dir-nul",
        build_config_output_dir_nul,
        "config.yaml|output_dir|null",
    ),
    refused(
        "config-binary-garbage",
        with_config(bytes(range(256)) * 4 + b"\xff\xfe\x00"),
        "config.yaml",
    ),
    refused("config-json-invalid", with_config('{"output": {,}}', "config.json"), "config.json"),
    refused("config-json-list", with_config("[1, 2]", "config.json"), "config.json", "mapping"),
    refused("config-directory", build_config_directory, "conf.d", "director"),
    refused("config-missing", build_config_missing, "missing.yaml", "not found|no such"),
    # -- environment variables -------------------------------------------------------------
    refused(
        "env-wrong-type", with_env(PERSONFRAMES_OUTPUT__JPG_QUALITY="high"), "jpg_quality", ENV
    ),
    refused("env-out-of-range", with_env(PERSONFRAMES_OUTPUT__JPG_QUALITY="0"), "jpg_quality", ENV),
    refused(
        "env-unknown-section",
        with_env(PERSONFRAMES_COLOUR__HUE="3"),
        "PERSONFRAMES_COLOUR__HUE",
    ),
    refused("env-unknown-field", with_env(PERSONFRAMES_SAMPLING__NOPE="1"), "nope", ENV),
    refused("env-bad-bool", with_env(PERSONFRAMES_OUTPUT__FACE_CROPS="maybe"), "face_crops", ENV),
    refused(
        "env-nan-interval",
        with_env(PERSONFRAMES_SAMPLING__SAMPLE_INTERVAL="nan"),
        "sample_interval",
        ENV,
    ),
    refused(
        "env-inf-interval",
        with_env(PERSONFRAMES_SAMPLING__SAMPLE_INTERVAL="inf"),
        "sample_interval",
        ENV,
    ),
    refused("env-bad-enum", with_env(PERSONFRAMES_MODELS__DEVICE="tpu"), "device", ENV),
    refused("env-workers-zero", with_env(PERSONFRAMES_PIPELINE__WORKERS="0"), "workers", ENV),
    # -- command-line values ---------------------------------------------------------------
    refused(
        "cli-sample-interval-inf", with_options("--sample-interval", "inf"), SAMPLE, usage=True
    ),
    refused(
        "cli-sample-interval-nan", with_options("--sample-interval", "nan"), SAMPLE, usage=True
    ),
    refused("cli-sample-interval-0", with_options("--sample-interval", "0"), SAMPLE, usage=True),
    refused(
        "cli-sample-interval-negative",
        with_options("--sample-interval", "-1"),
        SAMPLE,
        usage=True,
    ),
    refused(
        "cli-sample-interval-word",
        with_options("--sample-interval", "often"),
        SAMPLE,
        usage=True,
    ),
    refused("cli-max-frames-0", with_options("--max-frames", "0"), "max-frames", usage=True),
    refused(
        "cli-jpg-quality-500",
        with_options("--output-jpg-quality", "500"),
        "jpg-quality|jpg_quality",
        usage=True,
    ),
    refused(
        "cli-crop-padding-nan",
        with_options("--output-face-crop-padding", "nan"),
        "crop-padding|crop_padding",
        usage=True,
    ),
    refused(
        "cli-min-seconds-apart-nan",
        with_options("--min-seconds-apart", "nan"),
        "seconds-apart|seconds_apart",
        usage=True,
    ),
    refused(
        "cli-strength-nan",
        with_options("--face-restoration-strength", "nan"),
        "strength",
        usage=True,
    ),
    refused("cli-confidence-2", with_options("--confidence", "2"), "confidence", usage=True),
    refused(
        "cli-unknown-face-detector",
        with_options("--face-detector", "nope-detector"),
        "nope-detector",
        usage=True,
    ),
    refused("cli-bad-crop-ratio", with_options("--crop-ratio", "5:4"), "crop-ratio", usage=True),
    refused("cli-unknown-option", with_options("--frobnicate"), "frobnicate", usage=True),
    refused("cli-no-inputs", build_no_inputs, "INPUTS", usage=True),
    # -- restore ---------------------------------------------------------------------------
    case(
        "restore-1x1",
        restore("one_pixel.png"),
        0,
        check=restored_like("one_pixel.png", source_rgb("one_pixel.png"), 0),
    ),
    case(
        "restore-16bit-grey-png",
        restore("grey16.png"),
        0,
        check=restored_like("grey16.png", grey16_as_rgb, 6),
    ),
    case(
        "restore-cmyk-jpeg",
        restore("cmyk.jpg"),
        0,
        check=restored_like("cmyk.jpg", source_rgb("portrait.png"), 8),
    ),
    case(
        "restore-rgba-png",
        restore("rgba.png"),
        0,
        check=restored_like("rgba.png", source_rgb("portrait.png"), 3),
    ),
    case(
        "restore-palette-png",
        restore("palette.png"),
        0,
        check=restored_like("palette.png", source_rgb("palette.png"), 3),
    ),
    case(
        "restore-bad-exif-orientation",
        restore("bad_orientation.jpg"),
        0,
        check=restored_like("bad_orientation.jpg", source_rgb("bad_orientation.jpg"), 3),
    ),
    case(
        "restore-decompression-bomb",
        restore("bomb.png", *LANCZOS),
        2,
        "bomb.png",
        "limit",
        timeout=60,
    ),
    case(
        "restore-huge-header-no-data",
        restore("big_header.png", *LANCZOS),
        2,
        "big_header.png",
        timeout=60,
    ),
    case("restore-zero-width-png", restore("zero_width.png", *LANCZOS), 2, "zero_width.png"),
    case("restore-png-bad-chunk-type", restore("bad_chunk.png", *LANCZOS), 2, "bad_chunk.png"),
    case(
        "restore-truncated-jpeg",
        restore("truncated.jpg", *LANCZOS),
        2,
        "truncated.jpg: cannot decode image (image file is truncated",
    ),
    case("restore-truncated-png", restore("truncated.png", *LANCZOS), 2, "truncated.png"),
    refused("restore-zero-byte", restore_data("empty.jpg", b""), "empty.jpg: file is empty"),
    case(
        "restore-text-named-jpg",
        restore_data("notes.jpg", "just text\n"),
        2,
        "notes.jpg: not an image",
    ),
    refused("restore-missing-file", build_restore_missing, "nope.jpg: no such file or folder"),
    refused(
        "restore-folder-without-images",
        build_restore_folder_without_images,
        "docs: folder contains no images",
    ),
    case(
        "restore-output-under-a-file",
        build_restore_out_under_file,
        2,
        "blocker/restored: cannot create output directory",
        seed=False,
        out_exists=False,
    ),
    case(
        "restore-output-is-a-file",
        build_restore_out_is_file,
        2,
        "{out}",
        usage=True,
        seed=False,
        out_exists=False,
    ),
    case(
        "restore-output-cannot-be-created",
        build_restore_out_in_proc,
        2,
        "/proc/personframes-cannot-write-here: cannot create output directory",
        seed=False,
        out_exists=False,
    ),
    case(
        "restore-output-read-only", restore("portrait.png", *LANCZOS), 2, "{out}", mount=READ_ONLY
    ),
    refused("restore-into-its-own-folder", build_restore_into_own_folder, "portrait.png"),
    refused("restore-config-not-yaml", build_restore_bad_config, "config.yaml"),
    refused("restore-env-strength-2", build_restore_env, "strength", ENV),
    # -- models ----------------------------------------------------------------------------
    refused(
        "models-fetch-cache-option-is-a-file",
        models_cmd("fetch", "gfpgan-v1.4", cache="file"),
        "{out}",
        usage=True,
        seed=False,
        out_exists=False,
        timeout=60,
    ),
    refused(
        "models-fetch-env-cache-is-a-file",
        env_cache_file("fetch", "gfpgan-v1.4"),
        "{out}",
        seed=False,
        out_exists=False,
        timeout=60,
    ),
    refused(
        "models-fetch-cache-under-a-file",
        models_cmd("fetch", "gfpgan-v1.4", cache="under-file"),
        "{out}",
        seed=False,
        out_exists=False,
        timeout=60,
    ),
    case(
        "models-fetch-cache-read-only",
        build_fetch_env_cache,
        2,
        "{out}",
        mount=READ_ONLY,
        timeout=60,
    ),
    case(
        "models-fetch-bundled-env-cache-is-a-file",
        env_cache_file("fetch", "realesrgan-x4plus"),
        0,
        seed=False,
        out_exists=False,
    ),
    refused(
        "models-fetch-unknown-id",
        models_cmd("fetch", "no-such-model"),
        "no-such-model",
        usage=True,
    ),
    case(
        "models-list-env-cache-is-a-file",
        env_cache_file("list"),
        0,
        seed=False,
        out_exists=False,
    ),
    case(
        "models-verify-env-cache-is-a-file",
        env_cache_file("verify"),
        0,
        seed=False,
        out_exists=False,
    ),
    # -- signals ---------------------------------------------------------------------------
    case("sigint-right-after-start", build_real_video, 130, "interrupted", send=(0.3, SIGINT)),
    case("sigterm-right-after-start", build_real_video, 143, send=(0.3, SIGTERM)),
]


# -- snapshots -----------------------------------------------------------------------------
Snapshot = dict[str, tuple[str, Any]]


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> Snapshot:
    """Every entry under ``root`` (``root`` itself as ""): kind and content, links unfollowed."""
    found: Snapshot = {}

    def visit(path: Path, rel: str) -> None:
        if path in skip:
            return
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            found[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            found[rel] = ("dir", None)
            for child in sorted(os.listdir(path)):
                visit(path / child, f"{rel}/{child}" if rel else child)
        elif stat.S_ISREG(info.st_mode):
            found[rel] = ("file", path.read_bytes())
        else:
            found[rel] = ("other", stat.S_IFMT(info.st_mode))

    visit(root, "")
    return found


def describe(snap: Snapshot) -> list[str]:
    return sorted(f"{k or '.'} ({v[0]})" for k, v in snap.items())


# -- running -------------------------------------------------------------------------------
def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    env.update(extra)
    return env


def run_with_signal(
    args: list[str], env: dict[str, str], after: float, signum: int, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Spawn ``python -m personframes ...``, send ``signum`` ``after`` seconds later."""
    command = [sys.executable, "-m", "personframes", *args]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(env)
    )
    time.sleep(after)
    child.send_signal(signum)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


def run_in_mount_namespace(
    ws: World, mount: str, args: list[str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a private mount namespace after ``mount`` (a shell line using
    $PF_OUT and $PF_SEED); copy what it left in OUT to ``ws.harness/after``."""
    harness = ws.harness
    (harness / "seed").mkdir(parents=True)
    (harness / "after").mkdir()
    for rel, (kind, content) in snapshot(ws.out).items():
        if rel and kind == "file":
            (harness / "seed" / rel).parent.mkdir(parents=True, exist_ok=True)
            (harness / "seed" / rel).write_bytes(content)
    script = (
        f"set -e\n{mount}\nset +e\n"
        '"$PF_PY" -m personframes "$@" >"$PF_H/stdout" 2>"$PF_H/stderr"\n'
        'echo $? >"$PF_H/rc"\n'
        'cp -a "$PF_OUT"/. "$PF_H/after"/\n'
    )
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    env = _child_env(
        {
            **ws.env,
            "PF_OUT": str(ws.out),
            "PF_SEED": str(harness / "seed"),
            "PF_H": str(harness),
            "PF_PY": sys.executable,
        }
    )
    done = subprocess.run(
        [*unshare, "sh", "-c", script, "sh", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if not (harness / "rc").is_file():
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace: {done.stderr.strip()}")
    return subprocess.CompletedProcess(
        args,
        int((harness / "rc").read_text()),
        (harness / "stdout").read_text(),
        (harness / "stderr").read_text(),
    )


def spy_on_native_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a run in this process opens of videos, images and models (each call goes on
    to the real function): a ``refused`` case must open none."""
    import onnxruntime

    opened: list[str] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            opened.append(name)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(av, "open", spy("a video", av.open))
    monkeypatch.setattr(Image, "open", spy("an image", Image.open))
    monkeypatch.setattr(
        onnxruntime, "InferenceSession", spy("a model", onnxruntime.InferenceSession)
    )
    try:
        import ncnn
    except ImportError:
        pass
    else:
        monkeypatch.setattr(ncnn, "Net", spy("a model", ncnn.Net))
    return opened


# -- the checks ----------------------------------------------------------------------------
def _matches(line: str, mention: str) -> bool:
    """Whether the error line holds ``mention`` ("a|b": either; "re:...": a regex)."""
    if mention.startswith("re:"):
        return re.search(mention[3:], line, re.IGNORECASE) is not None
    return any(option.lower() in line.lower() for option in mention.split("|"))


def check_stderr(spec: Case, ws: World, result: subprocess.CompletedProcess[str]) -> list[str]:
    """What is wrong with stderr (empty when it is as the docstring says)."""
    err = result.stderr
    problems = []
    if "Traceback" in err:
        problems.append("stderr holds a Traceback")
    if "internal error" in err:
        problems.append("stderr says 'internal error'")
    lines = [line for line in err.splitlines() if line.strip()]
    if spec.code == 0:
        errors = [line for line in lines if "error:" in line.lower()]
        return problems + [f"a run that should succeed printed {e!r}" for e in errors]
    if spec.code == 1:
        lines = [line for line in lines if not LOG_LINE.match(line)]
    message = None
    if spec.send is not None:
        if len(lines) == 1 and lines[0].startswith("personframes:"):
            message = lines[0]
        else:
            problems.append(f"expected one line starting 'personframes:', got {len(lines)} lines")
    elif spec.usage and lines and lines[0].startswith("Usage: personframes"):
        rest = lines[1:]
        while rest and rest[0][:1].isspace():  # click wraps a long usage line
            rest = rest[1:]
        if rest and rest[0].startswith("Try 'personframes"):
            rest = rest[1:]
        if len(rest) == 1 and USAGE_ERROR.match(rest[0]):
            message = rest[0]
        else:
            problems.append("not click's usage block (Usage:, Try ..., one Error: line)")
    elif len(lines) != 1:
        problems.append(f"expected one line, got {len(lines)}")
    elif not lines[0].startswith("personframes: error: "):
        problems.append("the line does not start with 'personframes: error: '")
    else:
        message = lines[0]
    if message is not None:
        # Words are looked for with the case's folder cut out: pytest names that folder
        # after the test id, which holds the very words a message should use.
        words = message.replace(str(ws.tmp), "<tmp>")
        for mention in spec.mentions:
            wanted = mention.replace("{out}", str(ws.out)).replace("{in}", str(ws.inp))
            if not _matches(message if wanted != mention else words, wanted):
                problems.append(f"the error line should mention {wanted!r}")
    return problems


def check_files(
    spec: Case,
    code: int,
    outside_before: Snapshot,
    out_before: Snapshot,
    out_after: Snapshot,
    outside_after: Snapshot,
) -> list[str]:
    """What is wrong with the files (empty when nothing is)."""
    problems = []
    added = sorted(set(outside_after) - set(outside_before))
    changed = sorted(k for k in outside_before if outside_after.get(k) != outside_before[k])
    if added or changed:
        problems.append(f"written outside OUT: new {added}, changed or removed {changed}")
    for rel, entry in out_before.items():
        if rel == spec.set_aside:  # renamed, never deleted: its bytes are under a new name
            kept = [
                k for k, v in out_after.items() if k.startswith(f"{rel}.invalid-") and v == entry
            ]
            if not kept:
                problems.append(f"{rel} was not set aside intact")
        elif out_after.get(rel) != entry:
            problems.append(f"{rel or 'OUT itself'} (there before the run) was changed or removed")
    leftovers = [rel for rel in out_after if Path(rel).name.startswith(".pf-tmp-")]
    if leftovers:
        problems.append(f"temporary files left in OUT: {leftovers}")
    if spec.code == 2:
        new = [rel for rel in out_after if rel not in out_before]
        if not out_before:  # OUT did not exist: it may have been created, empty
            new = [rel for rel in new if not (rel == "" and out_after[""][0] == "dir")]
        if new:
            problems.append(f"a rejected input left new entries in OUT: {new}")
    return problems


@pytest.mark.parametrize("spec", CASES)
def test_bad_input(
    spec: Case, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = World(tmp_path, media)
    if spec.out_exists:
        ws.out.mkdir()
        if spec.seed:
            for name, data in SEEDS.items():
                (ws.out / name).write_bytes(data)
    args = spec.build(ws)
    argv = [os.fspath(a) for a in args]
    out_before = snapshot(ws.out)
    outside_before = snapshot(tmp_path, skip=(ws.out, ws.harness))
    monkeypatch.chdir(ws.cwd)
    if spec.mount is not None:
        result = run_in_mount_namespace(ws, spec.mount, argv, spec.timeout)
        out_after = snapshot(ws.harness / "after")
    elif spec.send is not None:
        result = run_with_signal(argv, ws.env, *spec.send, timeout=spec.timeout)
        out_after = snapshot(ws.out)
    else:
        opened = spy_on_native_work(monkeypatch) if spec.in_process else []
        try:
            if spec.in_process:
                result = run_cli_in_process(*argv, env=ws.env)
            else:
                result = run_cli(*argv, env=ws.env, timeout=spec.timeout)
        except UnicodeDecodeError as exc:
            pytest.fail(f"stderr or stdout is not valid UTF-8: {exc}")
        assert not opened, f"run in this process, yet it opened {opened}: make it a case(...)"
        out_after = snapshot(ws.out)
    outside_after = snapshot(tmp_path, skip=(ws.out, ws.harness))
    problems = []
    if result.returncode != spec.code:
        problems.append(f"expected exit {spec.code}, got {result.returncode}")
    problems += check_stderr(spec, ws, result)
    problems += check_files(
        spec, result.returncode, outside_before, out_before, out_after, outside_after
    )
    if spec.check is not None and result.returncode == spec.code:
        try:
            spec.check(ws, result)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    assert not problems, "\n".join(
        [*problems, f"exit {result.returncode}; stderr:", result.stderr.rstrip()]
    )


def test_table_is_complete() -> None:
    """The issue asks for at least 65 cases, each with a readable id."""
    ids = [param.id for param in CASES]
    assert len(ids) >= 65 and len(set(ids)) == len(ids)


def test_debug_env_shows_the_traceback_and_keeps_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PERSONFRAMES_DEBUG=1: the traceback, and still the error's own exit code."""
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = run_cli_in_process(
        "extract", str(empty), "-o", str(out), env={"PERSONFRAMES_DEBUG": "1"}
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" in result.stderr
    assert "empty.mp4: file is empty" in result.stderr.splitlines()[-1]
    assert not out.exists()
