"""Which engine and precision run a restoration model here: measured once per machine.

Every installed engine that can run the model's files is a candidate, in fp32 and,
where the CPU computes bf16 natively (AVX512-BF16, AMX) and the precision setting
allows it, in bf16. The first restoration on a machine that actually needs the model
measures them (bounded: each candidate restores a 64 px sample once to warm up, then
twice timed, a few seconds in all); one whose output differs from the fp32 reference
(the catalogue's engine in fp32) by more than ``MIN_PSNR_DB`` is refused. The reference
is kept unless another candidate is more than ``MARGIN`` faster, so that a machine's
load at that moment does not flip the choice between near-equal engines.

The choice is saved atomically in the model cache (``engine-choices.json``, keyed by
the model, the CPU model and flags and the engines' versions) and every later process,
worker, shard or Ray actor on the machine reads it; processes that start at once wait
for one measurement (``engine-choices.lock``, an flock) instead of racing.
``personframes models tune`` measures again; ``--restore-engine`` names the engine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from ..config import PrecisionMode
from ..cores import engine_threads
from ..cpu import cpu_flags, cpu_model, native_bf16
from ..errors import ModelError, OutputError
from ..models.cache import resolve_cache_dir
from ..models.catalogue import ModelSpec
from ..output.writer import atomic_write_bytes
from ..resize import lanczos
from ..types import Image
from .engines.base import ENGINES, Engine, EngineFailure, Precision, available_engines
from .metrics import psnr

log = logging.getLogger(__name__)

PRECISION_MODES: tuple[str, ...] = get_args(PrecisionMode)
AUTO = "auto"
MIN_PSNR_DB = 50.0  # an output this close to the fp32 reference counts as the same
# bf16 asked for by name: its output is accepted unless it is broken (measured 35-50 dB
# from fp32 on real faces and on the sample; a wrong engine is under 20 dB).
BF16_ASKED_MIN_DB = 30.0
SAMPLE_SIDE = 64  # cost per run: 147 GFLOP for x4plus, about 1 s on two cores
TUNE_RUNS = 2  # timed runs per candidate after the warm-up (the fastest counts)
# Another candidate replaces the reference only when it is this much faster: engines
# within it are equal for the user, and a measurement under load would flip between them.
MARGIN = 0.25
CACHE_FILE = "engine-choices.json"
LOCK_FILE = "engine-choices.lock"
LOCK_WAIT_S = 300.0  # a measurement takes seconds; a stuck holder is waited for this long
TUNING_VERSION = 3
# The distribution each engine comes in, for the cache key.
DISTRIBUTIONS = {
    "ncnn": "ncnn",
    "torch": "torch",
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "opencv": "opencv-python-headless",
}


@dataclass(frozen=True)
class Candidate:
    engine: str
    precision: Precision

    def __str__(self) -> str:
        return f"{self.engine} {self.precision}"


@dataclass(frozen=True)
class Trial:
    candidate: Candidate
    seconds: float | None = None  # fastest warm run on the sample
    psnr_db: float | None = None  # against the fp32 reference
    refused: str | None = None  # why it cannot be chosen


@dataclass(frozen=True)
class EngineChoice:
    candidate: Candidate
    how: str  # "measured", "saved", "the only candidate", "--restore-engine", "GPU", "given"
    trials: tuple[Trial, ...] = ()
    precision_fallback: str | None = None  # why bf16 was asked for but fp32 runs

    def describe(self) -> str:
        timed = [t for t in self.trials if t.seconds is not None and t.refused is None]
        table = ", ".join(f"{t.candidate} {t.seconds:.2f} s" for t in timed)
        refused = "; ".join(f"{t.candidate} refused: {t.refused}" for t in self.trials if t.refused)
        detail = f" (seconds per sample face: {table})" if table else ""
        return f"{self.candidate} ({self.how}){detail}" + (f"; {refused}" if refused else "")


def precisions(mode: str, bf16_native: bool) -> tuple[tuple[Precision, ...], str | None]:
    """The precisions to try for a ``--precision`` mode, and why bf16 is not tried
    although it was asked for (None: as asked)."""
    if mode not in PRECISION_MODES:
        raise ValueError(f"unknown precision {mode!r}: expected {', '.join(PRECISION_MODES)}")
    if mode == "fp32":
        return ("fp32",), None
    if bf16_native:
        return (("fp32", "bf16") if mode == AUTO else ("bf16",)), None
    if mode == AUTO:
        return ("fp32",), None
    return ("fp32",), "the CPU has no native bf16 (AVX512-BF16 or AMX); running fp32"


def candidates(
    spec: ModelSpec, engine: str, precision: str, bf16_native: bool
) -> tuple[list[Candidate], str | None]:
    """The (engine, precision) pairs to choose from, and the precision fallback reason."""
    wanted, fallback = precisions(precision, bf16_native)
    if engine == AUTO:
        engines = {
            n: c
            for n, c in available_engines().items()
            if c is not None and c.supports(spec) and ENGINES.lookup(n).measured
        }
    else:
        ENGINES.lookup(engine)  # UnknownIdError lists the known ones
        cls = available_engines()[engine]
        if cls is None:
            raise ModelError(f"the {engine} engine is not installed: {ENGINES.lookup(engine).hint}")
        if not cls.supports(spec):
            raise ModelError(f"the {engine} engine cannot run {spec.id}")
        engines = {engine: cls}
    found = [
        Candidate(name, p) for name, cls in engines.items() for p in wanted if p in cls.PRECISIONS
    ]
    if not found:
        raise ModelError(
            f"no installed engine runs {spec.id} in {' or '.join(wanted)}"
            + (f" (asked: {engine})" if engine != AUTO else "")
        )
    return found, fallback


def sample_face(side: int = SAMPLE_SIDE) -> Image:
    """A deterministic face-sized test image: smooth regions plus mid-frequency texture
    and a little noise. Timing does not depend on content, but the precision check
    does: bf16 engines reached 39.6-50.2 dB PSNR from fp32 on real faces (three shared
    face photos at 64 and 128 px) and 52.9-54.1 dB on a smooth sample, which would
    wrongly pass them; on this one they reach 36-40 dB, so the check errs on refusing."""
    rng = np.random.default_rng(20261203)
    coarse = rng.integers(40, 216, (8, 8, 3), dtype=np.uint8)
    texture = rng.integers(0, 255, (side // 4, side // 4, 3), dtype=np.uint8)
    image = lanczos(coarse, (side, side)).astype(np.float64)
    image += (lanczos(texture, (side, side)).astype(np.float64) - 128.0) * 0.3
    image += rng.normal(0.0, 4.0, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def measure(
    cands: list[Candidate],
    load: Callable[[Candidate], Engine],
    reference: Candidate,
    sample: Image,
    runs: int = TUNE_RUNS,
    min_db: dict[str, float] | None = None,
) -> list[Trial]:
    """Time each candidate on ``sample`` and check its output against ``reference``'s
    (at least ``min_db[precision]`` dB PSNR; default ``MIN_PSNR_DB``)."""
    try:
        expected = load(reference).run(sample)
    except (ModelError, EngineFailure) as exc:
        raise ModelError(f"the reference engine {reference} cannot run: {exc}") from None
    trials = []
    for cand in cands:
        try:
            engine = load(cand)
            # The first run on the sample (set-up for its size) is not timed.
            output = expected if cand == reference else engine.run(sample)
            if output.shape != expected.shape:
                trials.append(Trial(cand, refused=f"output shape {output.shape}"))
                continue
            quality = round(min(psnr(output, expected), 99.0), 1)
            timings: list[float] = []  # timed even when refused: another floor may take it
            for _ in range(max(1, runs)):
                start = time.perf_counter()
                engine.run(sample)
                timings.append(time.perf_counter() - start)
            trials.append(Trial(cand, round(min(timings), 4), quality))
        except (ModelError, EngineFailure) as exc:
            trials.append(Trial(cand, refused=str(exc).splitlines()[0][:200]))
    return judge(trials, min_db)


def judge(trials: list[Trial], min_db: dict[str, float] | None = None) -> list[Trial]:
    """The trials with those whose output lies further than ``min_db[precision]`` dB
    (default ``MIN_PSNR_DB``) from the reference refused: one measurement serves every
    floor (every strength the policy blends at)."""
    judged = []
    for trial in trials:
        if trial.seconds is None or trial.psnr_db is None:
            judged.append(trial)  # could not run: refused whatever the floor
            continue
        floor = (min_db or {}).get(trial.candidate.precision, MIN_PSNR_DB)
        refused = (
            f"output differs from the fp32 reference ({trial.psnr_db:.1f} dB < {floor:g} dB)"
            if trial.psnr_db < floor
            else None
        )
        judged.append(Trial(trial.candidate, trial.seconds, trial.psnr_db, refused))
    return judged


def fastest(trials: list[Trial], preferred: Candidate | None = None) -> Candidate:
    """The fastest usable candidate; ``preferred`` (the reference) unless the fastest is
    more than ``MARGIN`` faster than it."""
    usable = [t for t in trials if t.refused is None and t.seconds is not None]
    if not usable:
        reasons = "; ".join(f"{t.candidate}: {t.refused}" for t in trials)
        raise ModelError(f"no engine passed the check: {reasons}")
    best = min(usable, key=lambda t: t.seconds or 0.0)
    kept = next((t for t in usable if t.candidate == preferred), None)
    if kept is not None and (kept.seconds or 0.0) <= (best.seconds or 0.0) * (1.0 + MARGIN):
        return kept.candidate
    return best.candidate


def reference_for(spec: ModelSpec, cands: list[Candidate]) -> Candidate:
    """The fp32 reference: the catalogue's engine in fp32 (else the first fp32 one)."""
    if engines_can(spec.engine, spec):
        return Candidate(spec.engine, "fp32")
    return next((c for c in cands if c.precision == "fp32"), cands[0])


def engines_can(name: str, spec: ModelSpec) -> bool:
    cls = available_engines().get(name)
    return cls is not None and cls.supports(spec)


def bf16_floors(precision: str, blend_strength: float = 1.0) -> dict[str, float]:
    """How close (dB PSNR) bf16's raw output must come to fp32's. Named (``bf16``): only
    refused when broken. ``auto``: the face written is blended with Lanczos at the
    policy's strength s, which scales the model's error by s, so bf16 passes where its
    blended face stays within ``MIN_PSNR_DB`` of the fp32 blend: raw PSNR at least
    ``MIN_PSNR_DB + 20 log10 s`` (38 dB at the light touch's 0.25)."""
    if precision == "bf16":
        return {"bf16": BF16_ASKED_MIN_DB}
    strength = min(max(blend_strength, 0.01), 1.0)
    return {"bf16": round(MIN_PSNR_DB + 20.0 * math.log10(strength), 1)}


def choice_key(
    spec: ModelSpec, cands: list[Candidate], floors: dict[str, float] | None = None
) -> str:
    """What a cached choice holds for: model, CPU, engines and their versions. Not the
    thread count: one choice per machine holds for every worker count, so that serial,
    ``--workers`` and Ray runs restore faces with the same engine (the same pixels)."""
    versions = {}
    for name in sorted({c.engine for c in cands}):
        try:
            versions[name] = importlib.metadata.version(DISTRIBUTIONS.get(name, name))
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "?"
    key = {
        "tuning": TUNING_VERSION,
        "model": spec.id,
        "cpu": cpu_model(),
        "flags": sorted(cpu_flags()),
        "engines": versions,
        "candidates": [str(c) for c in cands],
    }
    if floors and any(c.precision == "bf16" for c in cands):
        key["floors"] = floors  # bf16 is judged at the blend's strength
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


class ChoiceCache:
    """``engine-choices.json`` in the model cache: key -> the measured choice."""

    def __init__(self, cache_dir: Path | str | None = None) -> None:
        self.path = resolve_cache_dir(cache_dir) / CACHE_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Candidate | None:
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        engine, precision = entry.get("engine"), entry.get("precision")
        if engine in ENGINES and precision in ("fp32", "bf16"):
            return Candidate(str(engine), precision)
        return None

    def trials(self, base: str) -> list[Trial] | None:
        """The trials measured for ``base`` (the choice key without the bf16 floors)."""
        entry = self._read().get(f"trials:{base}")
        if not isinstance(entry, list):
            return None
        try:
            return [
                Trial(
                    Candidate(str(t["candidate"]["engine"]), t["candidate"]["precision"]),
                    None if t["seconds"] is None else float(t["seconds"]),
                    None if t["psnr_db"] is None else float(t["psnr_db"]),
                    None if t["refused"] is None else str(t["refused"]),
                )
                for t in entry
            ]
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, choice: EngineChoice, base: str | None = None) -> bool:
        """Save ``choice`` under ``key`` (atomically; call it holding ``locked``); False,
        with one WARNING, when the cache cannot be written."""
        data = self._read()
        data[key] = {
            "engine": choice.candidate.engine,
            "precision": choice.candidate.precision,
            "cpu": cpu_model(),
            "threads": engine_threads(),
            "trials": [asdict(t) for t in choice.trials],
        }
        if base is not None and choice.how == "measured":
            data[f"trials:{base}"] = [asdict(t) for t in choice.trials]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(data, indent=2).encode())
        except (OSError, OutputError) as exc:
            log.warning(
                "the engine choice is not saved in %s (%s); each process measures again",
                self.path.parent,
                exc,
            )
            return False
        return True

    @contextlib.contextmanager
    def locked(self, wait_s: float = LOCK_WAIT_S) -> Iterator[bool]:
        """Hold ``engine-choices.lock`` (an flock, let go when the process ends however it
        ends): processes that need a choice at once measure one after the other, and
        each reads what the one before saved. Yields False when the lock cannot be had
        (a cache that cannot be written, or held for over ``wait_s``)."""
        lock_path = self.path.parent / LOCK_FILE
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.debug("no engine choice lock (%s)", exc)
            yield False
            return
        try:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                    if time.monotonic() > deadline:
                        log.warning("%s held for over %.0f s: measuring alone", lock_path, wait_s)
                        yield False
                        return
                    time.sleep(0.1)
            yield True
        finally:
            os.close(fd)  # closing lets the lock go


# Choices measured by this process that could not be saved (a read-only cache): measured
# once per process, whatever the sessions, and handed to the worker processes it starts.
_measured: dict[str, EngineChoice] = {}
_measured_lock = threading.Lock()


def measured_choices() -> dict[str, EngineChoice]:
    """The choices this process measured and could not save, for the worker processes it
    starts (``adopt_measured``)."""
    with _measured_lock:
        return dict(_measured)


def adopt_measured(choices: dict[str, EngineChoice]) -> None:
    """Use the choices another process measured. Each is keyed by the CPU and the engine
    versions, so one measured on another machine is never used."""
    with _measured_lock:
        for key, choice in choices.items():
            _measured.setdefault(key, choice)


def choose(
    spec: ModelSpec,
    load: Callable[[Candidate], Engine],
    *,
    engine: str = AUTO,
    precision: str = "fp32",
    cache_dir: Path | str | None = None,
    save: bool = False,
    bf16_native: bool | None = None,
    blend_strength: float = 1.0,
) -> EngineChoice:
    """The engine and precision that run ``spec`` on this machine's CPU: the choice saved
    in the model cache, else measured now and saved there (one process measures at a
    time; the others then read its choice). ``save`` (``personframes models tune``)
    measures again whatever was saved."""
    bf16 = native_bf16() if bf16_native is None else bf16_native
    cands, fallback = candidates(spec, engine, precision, bf16)
    if len(cands) == 1:
        how = "--restore-engine" if engine != AUTO else "the only candidate"
        return EngineChoice(cands[0], how, precision_fallback=fallback)
    cache = ChoiceCache(cache_dir)
    floors = bf16_floors(precision, blend_strength)
    key = choice_key(spec, cands, floors)

    def known() -> EngineChoice | None:
        cached = cache.get(key)
        if cached is not None and cached in cands:
            return EngineChoice(cached, "saved", precision_fallback=fallback)
        return _measured.get(key)

    with _measured_lock:
        if not save and (found := known()) is not None:
            return found
        with cache.locked():
            if not save and (found := known()) is not None:
                return found  # measured by another process while this one waited
            reference = reference_for(spec, cands)
            base = choice_key(spec, cands)
            earlier = None if save else cache.trials(base)
            if earlier is not None:  # measured for another strength: judged at this one
                trials = judge(earlier, floors)
                how = "saved"
            else:
                log.info("%s: measuring %d engine choices on this machine", spec.id, len(cands))
                sample = sample_face(spec.input_size or SAMPLE_SIDE)
                trials = measure(cands, load, reference, sample, min_db=floors)
                how = "measured"
            choice = EngineChoice(fastest(trials, reference), how, tuple(trials), fallback)
            if not cache.put(key, choice, base):
                _measured[key] = choice
            return choice
