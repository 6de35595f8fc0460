"""Fuzz targets shared by ``tests/test_fuzz.py`` (a few examples, in CI) and
``bench/fuzz.py`` (many, printing what it found as JSON).

Each target takes one generated case and either returns a short outcome ("Config",
"ConfigError", "image", "InputError", "frames", "exit 0" ...) or raises: a
:class:`Finding` when the code answered but broke its contract (an error of several
lines, a config holding nan, a file written outside OUT), any other exception when the
code under test raised something it should not. Every case is plain data (a base name
and byte patches, a YAML text, a list of database edits), so a finding's case is its
reproducer: ``python bench/fuzz.py --replay FILE`` runs the cases a bench run saved.

Targets:

1. ``config``: YAML or JSON text (random documents of the real sections and fields with
   odd values, the default config with lines rewritten, raw bytes) fed to
   ``personframes.config.load_config`` -> a Config or ConfigError. A Config must hold
   only finite numbers and load back from its own ``to_yaml()`` (what ``config show``
   prints); a ConfigError's message must be one line.
2. ``image``: a small real PNG or JPEG with bytes of its first 512 bytes changed and
   maybe cut short, read with ``personframes.image_file.read_image`` (what ``restore``
   reads inputs with) -> an RGB uint8 array or InputError (one line).
3. ``video``: a small MP4 (index at the end, or "faststart") with bytes of its first
   4 KB changed and maybe cut short, opened with ``VideoReader`` and every frame
   converted -> frames or InputError (one line).
4. ``state``: the state database of a real short run, edited (JSON records with odd
   types and file names such as ``../x``, ``/abs``, ``a/b``, ``""``, NUL; cells set to
   odd values; rows deleted; bytes of the file changed), then ``personframes extract``
   run again (as it was, with ``--output-format png`` so the write step discards and
   rewrites, or with the write step reset so it writes what select planned) -> exit 0,
   or exit 1/2 with one ``personframes: error:`` line; never a traceback, never
   anything written or deleted outside OUT.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import yaml
from hypothesis import strategies as st
from PIL import Image as PILImage

from personframes.config import Config, load_config
from personframes.errors import ConfigError, InputError
from personframes.image_file import read_image
from personframes.video.decode import VideoReader

from .util import IMAGES, VIDEOS, make_video


class Finding(AssertionError):
    """The code answered, but not as its contract says. ``key`` names the kind of
    problem, for counting the cases that show the same one."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key or message


def one_line(message: str, what: str) -> None:
    if "\n" in message or "\r" in message or not message.strip():
        raise Finding(
            f"{what} message is not one non-empty line: {message!r}",
            f"{what} message is not one non-empty line",
        )


# -- 1. config -----------------------------------------------------------------------------
SECTIONS: dict[str, list[str]] = {
    name: list(field.annotation.model_fields)  # type: ignore[union-attr]
    for name, field in Config.model_fields.items()
}
DEFAULT_YAML = Config().to_yaml()

# fmt: off
ODD_STRINGS = [
    "", " ", "nan", "inf", "-inf", ".nan", ".inf", "1e999", "0x10", "yes", "no", "on", "~",
    "null", "True", "1_000", "0o7", "１２", "😀", "a\nb", "\0", "../x", "/abs", "%", "*a", "&a",
    "!!python/object:os.system", "[", "{", "- ", "? ", "'", '"', "\t", "a\rb", "\u2028",
]
# fmt: on
ODD_TEXT = st.sampled_from(ODD_STRINGS)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    ODD_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


ODD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, -1.0])


def _field_values(section: str, name: str) -> st.SearchStrategy[Any]:
    """Values near the field's own type (a float field gets nan and inf, a choice field
    its choices and near misses), now and then anything at all."""
    default = getattr(getattr(Config(), section), name)
    near: st.SearchStrategy[Any]
    if isinstance(default, bool):
        near = st.booleans() | st.sampled_from(["yes", "no", "on", "1", "0", "true", "maybe"])
    elif isinstance(default, float):
        near = st.floats() | ODD_FLOATS | st.integers(-(2**64), 2**64)
    elif isinstance(default, int) or default is None:
        near = st.integers(-(2**64), 2**64) | ODD_FLOATS | st.none() | st.text(max_size=4)
    else:
        near = st.text(max_size=12) | ODD_TEXT | st.just(str(default).upper())
    return st.one_of(near, near, near, VALUES)


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document of real (and some made-up) sections and fields with odd values."""
    doc: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 3))):
        section = draw(st.sampled_from(sorted(SECTIONS)) | st.text(max_size=8) | ODD_TEXT)
        if draw(st.integers(0, 4)) == 0:
            doc[section] = draw(VALUES)
            continue
        fields = SECTIONS.get(section, [])
        body: dict[str, Any] = {}
        for _ in range(draw(st.integers(1, 3))):
            if fields and draw(st.integers(0, 5)) > 0:
                name = draw(st.sampled_from(fields))
                body[name] = draw(_field_values(section, name))
            else:
                body[draw(st.text(max_size=10) | ODD_TEXT)] = draw(VALUES)
        doc[section] = body
    return doc


@st.composite
def rewritten_default(draw: st.DrawFn) -> str:
    """The default config (as ``config show`` prints it) with a few values rewritten."""
    lines = DEFAULT_YAML.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        head, sep, _value = lines[i].partition(":")
        new = draw(ODD_TEXT | st.text(max_size=10) | st.floats().map(repr))
        lines[i] = f"{head}{sep} {new}" if sep else new
    return "\n".join(lines) + "\n"


def _yaml(doc: Any) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


@dataclass(frozen=True)
class ConfigCase:
    suffix: str  # ".yaml" or ".json"
    data: bytes


CONFIG_CASES = st.one_of(
    config_documents().map(lambda d: ConfigCase(".yaml", _yaml(d))),
    config_documents().map(lambda d: ConfigCase(".json", _json(d))),
    rewritten_default().map(lambda t: ConfigCase(".yaml", t.encode())),
    st.builds(ConfigCase, st.sampled_from([".yaml", ".json"]), st.binary(max_size=120)),
    st.text(max_size=80).map(lambda t: ConfigCase(".yaml", t.encode("utf-8", "surrogatepass"))),
)


def _non_finite(data: Any, where: str = "") -> str | None:
    if isinstance(data, float) and not math.isfinite(data):
        return where
    if isinstance(data, dict):
        for key, value in data.items():
            found = _non_finite(value, f"{where}.{key}" if where else str(key))
            if found:
                return found
    return None


def check_config(case: ConfigCase, folder: Path) -> str:
    path = folder / f"config{case.suffix}"
    path.write_bytes(case.data)
    try:
        config = load_config(path, environ={})
    except ConfigError as exc:
        one_line(str(exc), "ConfigError")
        return "ConfigError"
    where = _non_finite(config.model_dump())
    if where:
        raise Finding(
            f"the config accepted a non-finite number at {where}",
            f"the config accepted a non-finite number ({where.split('.')[0]})",
        )
    shown = folder / "shown.yaml"
    shown.write_text(config.to_yaml(), encoding="utf-8")
    try:
        again = load_config(shown, environ={})
    except ConfigError as exc:
        raise Finding(
            f"`config show` output does not load back: {exc}",
            "`config show` output does not load back",
        ) from None
    if again != config:
        changed = [k for k, v in config.to_dict().items() if again.to_dict()[k] != v]
        raise Finding(
            f"`config show` output loads back as a different config (sections {changed})",
            "`config show` output loads back as a different config",
        )
    config.section_hash(*SECTIONS)
    return "Config"


# -- byte patches ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Patch:
    base: str
    edits: tuple[tuple[int, int], ...]  # (offset, new byte value)
    cut: int | None  # keep this many bytes (None: all)

    def apply(self, data: bytes) -> bytes:
        out = bytearray(data)
        for offset, value in self.edits:
            if offset < len(out):
                out[offset] = value
        return bytes(out[: self.cut] if self.cut is not None else out)


def patches(bases: list[str], head: int, size: int) -> st.SearchStrategy[Patch]:
    """Edits within the first ``head`` bytes; sometimes the file cut short too."""
    edit = st.tuples(st.integers(0, head - 1), st.integers(0, 255))
    return st.builds(
        Patch,
        st.sampled_from(bases),
        st.lists(edit, min_size=1, max_size=8).map(tuple),
        st.none() | st.none() | st.integers(0, size),
    )


# -- 2. images -----------------------------------------------------------------------------
IMAGE_HEAD = 512
PIXEL_LIMIT = 1 << 22  # fuzzing only: keeps a header claiming 100 megapixels from using GBs


def image_bases() -> dict[str, bytes]:
    """A real photo, re-encoded small, as PNG and JPEG."""
    photo = PILImage.open(IMAGES / "whole" / "lowres_portrait_b.jpg").convert("RGB")
    small = photo.resize((64, 36))
    found = {}
    for name, fmt in (("png", "PNG"), ("jpeg", "JPEG")):
        buffer = io.BytesIO()
        small.save(buffer, format=fmt)
        found[name] = buffer.getvalue()
    return found


IMAGE_BASES = image_bases()


@dataclass(frozen=True)
class ImageCase:
    """A base image with its declared header rewritten (PNG: width, height, bit depth,
    colour type, interlace, with the chunk's CRC recomputed so the change gets past the
    checksum; JPEG: height and width of the SOF0 marker), then byte edits and a cut."""

    base: str
    header: tuple[int, ...] | None
    edits: tuple[tuple[int, int], ...]
    cut: int | None

    def data(self) -> bytes:
        out = bytearray(IMAGE_BASES[self.base])
        if self.header is not None and self.base == "png":
            out[16:29] = struct.pack(">IIBBBBB", *self.header[:4], 0, 0, self.header[4])
            out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])) & 0xFFFFFFFF)
        elif self.header is not None:
            sof = out.index(b"\xff\xc0")
            out[sof + 5 : sof + 9] = struct.pack(">HH", *self.header[:2])
        return Patch(self.base, self.edits, self.cut).apply(bytes(out))


SIZES = st.one_of(
    st.integers(0, 70_000),
    st.integers(0, 2**31 - 1),
    st.sampled_from([0, 1, 4096, 16_384, 65_535, 65_536, 2**31 - 1]),
)


@st.composite
def image_cases(draw: st.DrawFn) -> ImageCase:
    base = draw(st.sampled_from(sorted(IMAGE_BASES)))
    header = None
    if draw(st.booleans()):
        byte = st.integers(0, 255)
        if base == "png":
            depth = draw(st.sampled_from([1, 2, 4, 8, 16]) | byte)
            colour = draw(st.sampled_from([0, 2, 3, 4, 6]) | byte)
            interlace = draw(st.sampled_from([0, 1]) | byte)
            header = (draw(SIZES), draw(SIZES), depth, colour, interlace)
        else:
            header = (draw(SIZES) % 65_536, draw(SIZES) % 65_536)
    edit = st.tuples(st.integers(0, IMAGE_HEAD - 1), st.integers(0, 255))
    edits = tuple(draw(st.lists(edit, min_size=0 if header else 1, max_size=6)))
    cut = draw(st.none() | st.none() | st.integers(0, len(IMAGE_BASES[base])))
    return ImageCase(base, header, edits, cut)


IMAGE_CASES = image_cases()


@contextlib.contextmanager
def pixel_limit(limit: int) -> Iterator[None]:
    previous = PILImage.MAX_IMAGE_PIXELS
    PILImage.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        PILImage.MAX_IMAGE_PIXELS = previous


def check_image(case: ImageCase, folder: Path) -> str:
    suffix = ".png" if case.base == "png" else ".jpg"
    path = folder / f"image{suffix}"
    path.write_bytes(case.data())
    with pixel_limit(PIXEL_LIMIT):
        try:
            image = read_image(path, PIXEL_LIMIT).rgb
        except InputError as exc:
            one_line(str(exc), "InputError")
            return "InputError"
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.size > 0
    ):
        shape = getattr(image, "shape", "")
        raise Finding(f"read_image returned {type(image).__name__} {shape}", "not an RGB image")
    return "image"


# -- 3. videos -----------------------------------------------------------------------------
VIDEO_HEAD = 4096
MAX_FRAMES = 200
MAX_PIXELS = 4096 * 4096


def video_bases(folder: Path) -> dict[str, bytes]:
    """A 24-frame 128x96 noise MP4 (index at the end) and the same with the index first."""
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(24)]
    end = make_video(folder / "moov_end.mp4", frames, options={"g": "8"})
    start = folder / "faststart.mp4"
    with (
        av.open(str(end)) as inp,
        av.open(str(start), "w", format="mp4", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return {"moov_end": end.read_bytes(), "faststart": start.read_bytes()}


def video_cases(bases: dict[str, bytes]) -> st.SearchStrategy[Patch]:
    return patches(sorted(bases), VIDEO_HEAD, max(map(len, bases.values())))


def check_video(case: Patch, bases: dict[str, bytes], folder: Path) -> str:
    path = folder / "video.mp4"
    path.write_bytes(case.apply(bases[case.base]))
    frames = 0
    try:
        with VideoReader(path) as reader:
            if reader.info.width * reader.info.height > MAX_PIXELS:
                return "huge frames (not decoded)"
            for _index, _time, _key, to_image in reader.frames():
                image = to_image()
                if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                    raise Finding(f"a frame came out as {image.dtype} {image.shape}", "bad frame")
                frames += 1
                if frames >= MAX_FRAMES:
                    break
    except InputError as exc:
        one_line(str(exc), "InputError")
        return "InputError"
    return "frames"


# -- 4. the state database -----------------------------------------------------------------
# fmt: off
ODD_NAMES = st.sampled_from([
    "../x", "../../x", "/abs", "ABS", "a/b", "", ".", "..", "\0", "a\0b", "x" * 300,
    "a\\b", "~", "-", ".personframes", ".personframes/state.sqlite", "victim.jpg", "0" * 32,
    "clip_info.json", " ", "\n", "😀.jpg", "CON", "../victim.jpg",
])
# fmt: on
ODD_JSON = st.one_of(ODD_NAMES, VALUES)
RECORD_KEYS = [
    "file", "caption", "kind", "frame_index", "face", "person_id", "seq", "index", "time_s",
    "dhash", "faces", "people", "quality", "rank", "size", "selected", "keyframe_times",
    "frames_without_pts", "video", "restoration",
]  # fmt: skip
SQL_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    ODD_NAMES,
)
TABLES = {
    "steps": ["video_key", "step", "config_hash", "done", "progress"],
    "records": ["video_key", "step", "key", "seq", "data"],
}
# The folder's small files beside the databases: name claims, the path cache, a video's name.
INDEX_FILES = {
    "names": ".personframes/names/*.json",
    "paths": ".personframes/paths/*.json",
    "video": ".personframes/videos/*/video.json",
}
INDEX_FIELDS = ["stem", "video_key", "path", "size", "mtime_ns", "previous_key", None]
MODES = ["same", "png", "reset-write"]

EDITS = st.one_of(
    st.tuples(st.just("field"), st.integers(0, 99), st.sampled_from(RECORD_KEYS), ODD_JSON),
    st.tuples(st.just("record"), st.integers(0, 99), ODD_JSON | st.just("{not json")),
    st.tuples(
        st.just("cell"),
        st.sampled_from(sorted(TABLES)),
        st.integers(0, 99),
        st.integers(0, 4),
        SQL_VALUES,
    ),
    st.tuples(st.just("delete"), st.sampled_from(sorted(TABLES)), st.integers(0, 99)),
    st.tuples(st.just("bytes"), st.integers(0, 1 << 16), st.binary(min_size=1, max_size=16)),
    st.tuples(
        st.just("index"),
        st.sampled_from(sorted(INDEX_FILES)),
        st.sampled_from(INDEX_FIELDS),
        ODD_JSON | st.just("{not json"),
    ),
)


@dataclass(frozen=True)
class StateCase:
    edits: tuple[tuple[Any, ...], ...]
    mode: str


STATE_CASES = st.builds(
    StateCase, st.lists(EDITS, min_size=1, max_size=3).map(tuple), st.sampled_from(MODES)
)


def _value(value: Any, sandbox: Path) -> Any:
    """ "ABS" stands for an absolute path to a file outside OUT that must survive."""
    return str(sandbox / "abs_victim.jpg") if value == "ABS" else value


def _edit_index(out: Path, edit: tuple[Any, ...], sandbox: Path) -> None:
    """Set one field of a name claim, path cache entry or video.json (``None``: replace
    the whole file) to an odd value."""
    _, which, name, value = edit
    found = sorted(out.glob(INDEX_FILES[which]))
    if not found:
        return
    path = found[0]
    if name is None:
        path.write_text(value if value == "{not json" else json.dumps(_value(value, sandbox)))
        return
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return
    if isinstance(data, dict):
        data[name] = _value(value, sandbox)
        path.write_text(json.dumps(data))


def edit_state(db_path: Path, case: StateCase, sandbox: Path) -> None:
    for edit in case.edits:
        if edit[0] == "index":
            _edit_index(db_path.parents[3], edit, sandbox)
            continue
        if edit[0] == "bytes":
            _, offset, blob = edit
            data = bytearray(db_path.read_bytes())
            offset %= max(1, len(data))
            data[offset : offset + len(blob)] = blob
            db_path.write_bytes(bytes(data))
            continue
        try:
            db = sqlite3.connect(db_path, isolation_level=None)
            _edit_rows(db, edit, sandbox)
            db.close()
        except (sqlite3.DatabaseError, UnicodeDecodeError):
            # An earlier byte edit broke the file (SQLite's message about a broken schema
            # can even be invalid UTF-8): the rerun sees the file as it is.
            continue


def _edit_rows(db: sqlite3.Connection, edit: tuple[Any, ...], sandbox: Path) -> None:
    kind = edit[0]
    if kind in ("field", "record"):
        rows = db.execute("SELECT rowid, data FROM records ORDER BY rowid").fetchall()
        if not rows:
            return
        rowid, text = rows[edit[1] % len(rows)]
        if kind == "field":
            try:
                data = json.loads(text)
            except ValueError:
                return
            if isinstance(data, dict):
                data[edit[2]] = _value(edit[3], sandbox)
            new = json.dumps(data)
        else:
            new = edit[2] if edit[2] == "{not json" else json.dumps(_value(edit[2], sandbox))
        db.execute("UPDATE records SET data=? WHERE rowid=?", (new, rowid))
    elif kind == "cell":
        _, table, row, column, value = edit
        rowids = [r[0] for r in db.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
        if rowids:
            name = TABLES[table][column % len(TABLES[table])]
            target = rowids[row % len(rowids)]
            # NOT NULL / primary key violations: not a state the program could meet
            with contextlib.suppress(sqlite3.IntegrityError):
                db.execute(
                    f"UPDATE {table} SET {name}=? WHERE rowid=?", (_value(value, sandbox), target)
                )
    elif kind == "delete":
        _, table, row = edit
        rowids = [r[0] for r in db.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
        if rowids:
            db.execute(f"DELETE FROM {table} WHERE rowid=?", (rowids[row % len(rowids)],))


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Every entry under ``root``: kind and bytes, symbolic links not followed."""
    found: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in dirs + files:
            path = here / name
            if path in skip:
                continue
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISREG(info.st_mode):
                found[rel] = path.read_bytes()
            else:
                found[rel] = stat.S_IFMT(info.st_mode)
    return found


@dataclass
class StateBase:
    """A finished real run to start each example from."""

    video: Path
    out: Path
    args: list[str]
    env: dict[str, str]


def make_state_base(folder: Path) -> StateBase:
    """20 frames of the shared stage video (every third, 640x360, 2 s), extracted once."""
    frames = []
    with av.open(str(VIDEOS / "stage_performer.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 3 == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 20:
                break
    video = make_video(folder / "clip.mp4", frames, options={"g": "5"})
    out = folder / "base_out"
    args = [str(video), "--no-face-restoration", "--max-frames", "3"]
    # onnxruntime writes telemetry files into the user cache (test_bad_inputs.py reports
    # that): they go to a folder the checks here do not look at.
    env = {"XDG_CACHE_HOME": str(folder / "xdg-cache")}
    base = StateBase(video, out, args, env)
    done = run_extract(base, out, folder)
    if done.returncode != 0 or not list(out.glob("*.jpg")):
        raise RuntimeError(f"the base run failed: {done.stderr}")
    return base


def run_extract(
    base: StateBase, out: Path, cwd: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONFRAMES_")}
    env.update(base.env)
    done = subprocess.run(
        [sys.executable, "-m", "personframes", "extract", *base.args, "-o", str(out), *extra],
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "backslashreplace"),
        done.stderr.decode("utf-8", "backslashreplace"),
    )


def _error_kind(stderr: str) -> str:
    """The error's kind without its details: "internal error: JSONDecodeError" ..."""
    for line in stderr.splitlines():
        if "internal error:" in line:
            return "internal error: " + line.split("internal error:", 1)[1].split(":")[0].strip()
        if line.startswith("personframes: error:"):
            return "error: " + line.split("(", 1)[0][-60:]
    return "no error line"


def check_state(case: StateCase, base: StateBase, sandbox: Path) -> str:
    """Copy the base run into ``sandbox/deep/out``, edit its database, run again."""
    out = sandbox / "deep" / "out"
    shutil.copytree(base.out, out)
    for victim in ("victim.jpg", "x", "abs_victim.jpg", "deep/victim.jpg", "deep/x"):
        (sandbox / victim).write_bytes(b"keep me")
    (sandbox / "cwd").mkdir()
    (db_path,) = out.glob(".personframes/videos/*/state.sqlite")
    edit_state(db_path, case, sandbox)
    extra: tuple[str, ...] = ()
    if case.mode == "png":
        extra = ("--output-format", "png")
    elif case.mode == "reset-write":
        with contextlib.suppress(sqlite3.DatabaseError, UnicodeDecodeError):
            db = sqlite3.connect(db_path, isolation_level=None)
            db.execute("DELETE FROM records WHERE step='write'")
            db.execute("UPDATE steps SET done=0, progress=-1 WHERE step='write'")
            db.close()
    before = tree(sandbox, skip=(out,))
    video_before = base.video.read_bytes()
    done = run_extract(base, out, sandbox / "cwd", extra)
    after = tree(sandbox, skip=(out,))
    problems: list[tuple[str, str]] = []  # (kind, detail)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        problems.append(("written or deleted outside OUT", str(changed)))
    if base.video.read_bytes() != video_before:
        problems.append(("the input video changed", ""))
    err = done.stderr
    if "Traceback" in err or "internal error" in err:
        problems.append(("a traceback or an internal error", ""))
    if done.returncode != 0:
        lines = [
            line
            for line in err.splitlines()
            if line.strip() and not line.startswith(("personframes: INFO:", "personframes: WARN"))
        ]
        if done.returncode not in (1, 2):
            problems.append((f"exit {done.returncode}", ""))
        if len(lines) != 1 or not lines[0].startswith("personframes: error: "):
            problems.append(("not one 'personframes: error:' line", ""))
    if problems:
        raise Finding(
            "; ".join(f"{kind} {detail}".strip() for kind, detail in problems)
            + f" (exit {done.returncode}; stderr: {err.strip()!r})",
            "; ".join(kind for kind, _ in problems)
            + f" (exit {done.returncode}, {_error_kind(err)})",
        )
    return f"exit {done.returncode}"
