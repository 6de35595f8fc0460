"""Restoration engines in a :class:`~personframes.models.session.ModelSession`: which
engine and precision run a model (chosen once per machine, pinned by a caller or by a
video's record), and the model loaded on it, made once per session and shared."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..models.catalogue import get_model
from ..models.session import ModelSession
from . import engine_choice as ec
from .engines.base import Engine, available_engines, create_engine

log = logging.getLogger(__name__)


@dataclass
class _Pins:
    """A session's engines fixed by its callers, over the machine's choice."""

    given: dict[tuple[str, str], ec.EngineChoice] = field(default_factory=dict)  # add_engine
    recorded: dict[tuple[str, float], ec.Candidate] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _pins(session: ModelSession) -> _Pins:
    return session.cached(("engine_pins",), _Pins)


def engine(
    session: ModelSession,
    model_id: str,
    device: str = "auto",
    engine: str = "auto",
    precision: str = "auto",
    strength: float = 1.0,
) -> Engine:
    """The restoration model's loaded engine (shared; its runs are serialised);
    ModelError (remembered) when the model cannot be loaded. ``engine`` "auto" and a
    CPU run: the engine and precision chosen on this machine
    (:mod:`personframes.restore.engine_choice`); ``precision``: fp32, bf16 or auto
    (bf16 only where its output blended at ``strength`` stays within 50 dB of fp32's)."""
    choice = engine_choice(session, model_id, device, engine, precision, strength)
    return engine_for(session, model_id, device, choice.candidate)


@contextlib.contextmanager
def recorded(
    session: ModelSession, used: Mapping[tuple[str, float], ec.Candidate]
) -> Iterator[None]:
    """Inside, the (model, strength) pairs of ``used`` restore on the engine and precision
    recorded for them (a resumed video's), whatever the machine's choice."""
    pins = _pins(session)
    with pins.lock:
        saved, pins.recorded = pins.recorded, dict(used)
    try:
        yield
    finally:
        with pins.lock:
            pins.recorded = saved


def recorded_model(session: ModelSession, models: tuple[str, ...], strength: float) -> str | None:
    """Which of ``models`` the video being resumed restored at ``strength`` with (None:
    none recorded), so that its remaining faces use the same model too."""
    pins = _pins(session)
    with pins.lock:
        return next((m for m in models if (m, strength) in pins.recorded), None)


def engine_choice(
    session: ModelSession,
    model_id: str,
    device: str = "auto",
    engine: str = "auto",
    precision: str = "auto",
    strength: float = 1.0,
) -> ec.EngineChoice:
    """Which engine and precision run ``model_id`` (chosen once per session; the choice
    is logged once)."""
    spec = get_model(model_id)
    pins = _pins(session)
    with pins.lock:
        given = pins.given.get((model_id, device))
        pinned = pins.recorded.get((model_id, strength))
    if given is not None:
        return given
    if pinned is not None:
        return ec.EngineChoice(pinned, "recorded for this video")

    def choose() -> ec.EngineChoice:
        name = spec.engine if engine == ec.AUTO else engine
        cls = available_engines().get(name)
        if device != "cpu" and cls is not None and cls.gpu_missing() is None:
            return ec.EngineChoice(ec.Candidate(name, "fp32"), "GPU")
        choice = ec.choose(
            spec,
            lambda c: engine_for(session, model_id, device, c),
            engine=engine,
            precision=precision,
            cache_dir=session.cache_dir,
            blend_strength=strength,
        )
        if choice.precision_fallback:
            log.warning("%s: bf16 asked for, but %s", model_id, choice.precision_fallback)
        if choice.how == "measured":  # said once per machine; a saved choice at DEBUG
            log.info(
                "%s runs on %s; saved for every later run on this machine "
                "(`personframes models tune` measures again)",
                model_id,
                choice.describe(),
            )
        else:
            log.debug("%s runs on %s", model_id, choice.describe())
        for trial in choice.trials:  # the engines measured and not chosen are let go
            if trial.candidate != choice.candidate:
                session.discard(("engine", model_id, device, trial.candidate))
        return choice

    key = ("engine_choice", model_id, device, engine, precision, strength)
    return session.cached(key, choose)


def engine_for(
    session: ModelSession, model_id: str, device: str, candidate: ec.Candidate
) -> Engine:
    """The model loaded on ``candidate``'s engine and precision (shared)."""

    def load() -> Engine:
        spec = get_model(model_id)
        loaded = create_engine(candidate.engine)
        loaded.load(session.model_files(model_id), device, candidate.precision)  # type: ignore[arg-type]
        if spec.input_size is None:
            # The first run sets up the engine's threads and buffers (2-4 s at 128 px on
            # ncnn): pay it on a tiny input here, not on the first face.
            loaded.run(np.zeros((16, 16, 3), np.uint8))
        log.debug("loaded %s on %s with %s", model_id, loaded.device, candidate)
        return loaded

    return session.cached(("engine", model_id, device, candidate), load)


def add_engine(session: ModelSession, model_id: str, device: str, loaded: Engine) -> None:
    """Use ``loaded`` (loaded by the caller, e.g. with weights it trained or checked
    itself) for ``model_id`` on ``device`` from now on, whatever the engine setting."""
    candidate = ec.Candidate(loaded.NAME, loaded.precision)
    session.put(("engine", model_id, device, candidate), loaded)
    pins = _pins(session)
    with pins.lock:
        pins.given[(model_id, device)] = ec.EngineChoice(candidate, "given")
