"""Choosing the restoration engine by measurement: the choice logic with fake engines
(a slow one, a wrong one, a broken one), and the real engines on a real face."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.cores import set_workers
from personframes.cpu import native_bf16
from personframes.errors import ModelError
from personframes.models import get_model
from personframes.models.cache import ResolvedModel
from personframes.models.catalogue import DEFAULT_MODEL
from personframes.models.session import ModelSession
from personframes.restore.engine_choice import (
    MARGIN,
    MIN_PSNR_DB,
    Candidate,
    ChoiceCache,
    EngineChoice,
    Trial,
    candidates,
    choice_key,
    fastest,
    measure,
    precisions,
    sample_face,
)
from personframes.restore.engines import Engine, available_engines
from personframes.restore.engines.base import ENGINES
from personframes.restore.loading import engine_choice, engine_for
from personframes.restore.metrics import psnr
from personframes.types import Image

from .util import IMAGES, run_cli

SPEC = get_model(DEFAULT_MODEL)
INSTALLED = [n for n, c in available_engines().items() if c is not None and c.supports(SPEC)]
# What --restore-engine auto measures (an engine registered measured=False runs when named)
MEASURED = [n for n in INSTALLED if ENGINES.lookup(n).measured]


class _Fake(Engine):
    """Fake engine (the choice logic under test, not a model): nearest-neighbour x4,
    optionally slow, wrong or broken."""

    NAME = "fake"

    def __init__(self, delay: float = 0.0, noise: int = 0) -> None:
        super().__init__()
        self.delay, self.noise = delay, noise
        self.model = ResolvedModel(SPEC, {})

    def load(self, model: ResolvedModel, device: str = "auto", precision: str = "fp32") -> None:  # type: ignore[override]
        del model, device, precision

    def _infer(self, image: Image, fidelity: float | None) -> Image:
        time.sleep(self.delay)
        out: Image = image.repeat(4, axis=0).repeat(4, axis=1)
        if self.noise:
            rng = np.random.default_rng(0)
            spread = rng.integers(-self.noise, self.noise + 1, out.shape)
            out = np.clip(out + spread, 0, 255).astype(np.uint8)
        return out


def _loader(engines: dict[str, Engine]):  # type: ignore[no-untyped-def]
    def load(c: Candidate) -> Engine:
        if c.engine not in engines:
            raise ModelError(f"{c.engine} cannot load")
        return engines[c.engine]

    return load


FAST, SLOW, WRONG, BROKEN = (Candidate(n, "fp32") for n in ("fast", "slow", "wrong", "broken"))


@pytest.mark.parametrize("order", [(FAST, SLOW), (SLOW, FAST)])
def test_a_slow_engine_is_never_chosen(order: tuple[Candidate, Candidate]) -> None:
    engines = {"fast": _Fake(), "slow": _Fake(delay=0.05)}
    trials = measure(list(order), _loader(engines), FAST, sample_face(32), runs=1)
    assert fastest(trials) == FAST
    timed = {t.candidate: t.seconds for t in trials}
    assert timed[SLOW] is not None and timed[FAST] is not None and timed[SLOW] > timed[FAST]


def test_a_mismatching_engine_is_refused_even_when_fastest() -> None:
    engines = {"slow": _Fake(delay=0.05), "wrong": _Fake(noise=40)}
    trials = measure([WRONG, SLOW], _loader(engines), SLOW, sample_face(32), runs=1)
    wrong = next(t for t in trials if t.candidate == WRONG)
    assert wrong.refused is not None and "differs from the fp32 reference" in wrong.refused
    assert wrong.psnr_db is not None and wrong.psnr_db < MIN_PSNR_DB
    assert fastest(trials) == SLOW


def test_an_engine_that_cannot_load_is_refused_and_none_left_is_an_error() -> None:
    engines = {"fast": _Fake(), "wrong": _Fake(noise=40)}
    trials = measure([BROKEN, FAST], _loader(engines), FAST, sample_face(32), runs=1)
    assert next(t for t in trials if t.candidate == BROKEN).refused == "broken cannot load"
    assert fastest(trials) == FAST
    only_bad = measure([BROKEN, WRONG], _loader(engines), FAST, sample_face(32), runs=1)
    with pytest.raises(ModelError, match="no engine passed the check"):
        fastest(only_bad)


def test_bf16_asked_for_by_name_is_held_to_a_looser_check_than_auto() -> None:
    """bf16 lies 35-50 dB from fp32 on real faces: ``--precision auto`` refuses it,
    ``--precision bf16`` takes it unless it is broken."""
    close = Candidate("close", "bf16")
    engines = {"fast": _Fake(delay=0.02), "close": _Fake(noise=3), "wrong": _Fake(noise=40)}
    auto = measure([FAST, close], _loader(engines), FAST, sample_face(32), runs=1)
    assert next(t for t in auto if t.candidate == close).refused is not None
    floors = {"bf16": 30.0}
    wrong = Candidate("wrong", "bf16")
    named = measure([close, wrong], _loader(engines), FAST, sample_face(32), 1, floors)
    assert fastest(named) == close
    assert next(t for t in named if t.candidate == wrong).refused is not None


def test_precisions_follow_the_cpu() -> None:
    assert precisions("fp32", True) == (("fp32",), None)
    assert precisions("auto", True) == (("fp32", "bf16"), None)
    assert precisions("bf16", True) == (("bf16",), None)
    assert precisions("auto", False) == (("fp32",), None)
    tried, why = precisions("bf16", False)
    assert tried == ("fp32",) and why is not None and "no native bf16" in why


def test_candidates_are_the_installed_engines_that_run_the_model() -> None:
    found, _ = candidates(SPEC, "auto", "fp32", bf16_native=False)
    assert {c.engine for c in found} == set(MEASURED) >= {"ncnn", "onnxruntime"}
    assert {c.precision for c in found} == {"fp32"}
    with_bf16, _ = candidates(SPEC, "auto", "auto", bf16_native=True)
    assert Candidate("ncnn", "bf16") in with_bf16
    assert Candidate("onnxruntime", "bf16") not in with_bf16  # fp32 only
    named, _ = candidates(SPEC, "onnxruntime", "fp32", bf16_native=True)
    assert named == [Candidate("onnxruntime", "fp32")]
    with pytest.raises(ModelError, match="no installed engine runs"):
        candidates(SPEC, "onnxruntime", "bf16", bf16_native=True)
    with pytest.raises(ModelError, match="cannot run codeformer"):
        candidates(get_model("codeformer"), "ncnn", "fp32", bf16_native=False)


def test_one_choice_holds_for_every_worker_count(tmp_path: Path) -> None:
    """Serial, --workers and Ray runs on one machine restore with the same engine."""
    found, _ = candidates(SPEC, "auto", "fp32", bf16_native=False)
    alone = choice_key(SPEC, found)
    set_workers(2)
    try:
        shared = choice_key(SPEC, found)
    finally:
        set_workers(1)
    assert alone == shared
    cache = ChoiceCache(tmp_path)
    assert cache.get(alone) is None
    cache.put(alone, EngineChoice(Candidate("onnxruntime", "fp32"), "measured"))
    assert cache.get(alone) == Candidate("onnxruntime", "fp32")
    (tmp_path / "engine-choices.json").write_text("{not json")
    assert cache.get(alone) is None  # a damaged cache means measuring again


def _face(side: int) -> Image:
    face = PILImage.open(IMAGES / "faces" / "aligned_0240.png").convert("RGB")
    return np.asarray(face.resize((side, side), PILImage.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def session() -> ModelSession:
    return ModelSession()


BF16 = (
    [Candidate(n, "bf16") for n in INSTALLED if "bf16" in available_engines()[n].PRECISIONS]  # type: ignore[union-attr]
    if native_bf16()
    else []
)


@pytest.mark.parametrize("pair", [Candidate(n, "fp32") for n in INSTALLED], ids=str)
def test_every_fp32_engine_matches_the_reference_on_a_real_face(
    pair: Candidate, session: ModelSession
) -> None:
    face = _face(64)
    reference = engine_for(session, DEFAULT_MODEL, "cpu", Candidate("ncnn", "fp32")).run(face)
    out = engine_for(session, DEFAULT_MODEL, "cpu", pair).run(face)
    assert out.shape == reference.shape == (256, 256, 3)
    # fp32 engines differ by rounding only (measured 80-99 dB).
    assert psnr(out, reference) >= 70.0


@pytest.mark.skipif(not BF16, reason="the CPU has no native bf16")
@pytest.mark.parametrize("pair", BF16, ids=str)
def test_the_tuning_sample_judges_bf16_no_more_kindly_than_a_real_face(
    pair: Candidate, session: ModelSession
) -> None:
    """The precision check runs on a synthetic sample: it must not pass an engine
    whose output on a real face is further from fp32 than on the sample."""
    reference = engine_for(session, DEFAULT_MODEL, "cpu", Candidate("ncnn", "fp32"))
    engine = engine_for(session, DEFAULT_MODEL, "cpu", pair)
    sample = sample_face()
    on_sample = psnr(engine.run(sample), reference.run(sample))
    face = _face(128)
    on_face = psnr(engine.run(face), reference.run(face))
    assert 30.0 < on_sample <= on_face + 1.0, (on_sample, on_face)


@pytest.mark.slow
def test_models_tune_measures_saves_and_later_runs_use_it(tmp_path: Path) -> None:
    done = run_cli("models", "tune", "--cache-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    timed = [line for line in lines if len(line.split()) > 2 and line.split()[1] == "fp32"]
    assert len([line for line in timed if " dB" in line]) == len(MEASURED)
    chosen = lines[-1].split(": ", 1)[1].split(" (")[0]
    assert "(measured" in lines[-1]
    saved = json.loads((tmp_path / "engine-choices.json").read_text())
    (entry,) = [v for k, v in saved.items() if not k.startswith("trials:")]
    (trials,) = [v for k, v in saved.items() if k.startswith("trials:")]  # for other strengths
    assert len(trials) == len(entry["trials"])
    assert f"{entry['engine']} {entry['precision']}" == chosen
    seconds = {
        " ".join(line.split()[:2]): float(line.split()[2])
        for line in lines[:-1]
        if " s " in line and "refused" not in line
    }
    # The reference (ncnn fp32) is kept unless another is more than MARGIN faster.
    best = min(seconds.values())
    if seconds["ncnn fp32"] <= best * (1 + MARGIN):
        assert chosen == "ncnn fp32"
    else:
        assert seconds[chosen] == best
    # The built ONNX graph is in the model cache with its hash recorded.
    record = json.loads((tmp_path / DEFAULT_MODEL / "rrdbnet-x4.onnx.json").read_text())
    assert record["size"] == (tmp_path / DEFAULT_MODEL / "rrdbnet-x4.onnx").stat().st_size
    later = engine_choice(ModelSession(tmp_path), DEFAULT_MODEL, "cpu", "auto", "auto")
    assert later.how == "saved" and str(later.candidate) == chosen


@pytest.mark.slow
def test_without_a_saved_choice_a_run_measures_and_saves_it_in_the_user_cache_only(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "xdg-cache"
    cache.mkdir()
    out = tmp_path / "out"
    image = IMAGES / "whole" / "lowres_portrait_a.jpg"
    done = run_cli(
        "restore", str(image), "-o", str(out), "--upscale", "2", env={"XDG_CACHE_HOME": str(cache)}
    )
    assert done.returncode == 0, done.stderr
    assert "measuring" in done.stderr and "saved for every later run" in done.stderr
    models = cache / "personframes" / "models"
    assert (models / "engine-choices.json").is_file()  # the tool's own cache, nothing else
    assert {p.relative_to(cache).parts[:2] for p in cache.rglob("*")} <= {
        ("personframes",),
        ("personframes", "models"),
    }
    assert sorted(p.name for p in out.iterdir()) == ["lowres_portrait_a.jpg"]


def test_the_reference_is_kept_unless_another_is_clearly_faster() -> None:
    """Near-equal engines do not flip with the machine's load at the moment of measuring."""
    ref, other = Candidate("ncnn", "fp32"), Candidate("onnxruntime", "fp32")
    near = [Trial(ref, 1.0), Trial(other, 1.0 / (1 + MARGIN) + 0.01)]
    assert fastest(near, ref) == ref
    clear = [Trial(ref, 1.0), Trial(other, 1.0 / (1 + MARGIN) - 0.05)]
    assert fastest(clear, ref) == other
    assert fastest([Trial(ref, refused="broken"), Trial(other, 2.0)], ref) == other


@pytest.mark.skipif("openvino" not in INSTALLED, reason="the openvino extra is not installed")
def test_openvino_is_loaded_without_its_usage_reporting(tmp_path: Path) -> None:
    """Importing openvino would write a client id under the home folder and fork a
    process to post a usage event; through personframes it uses its own stub instead."""
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "from personframes.restore.engines.openvino_engine import OpenVinoEngine\n"
        "import openvino.tools.ovc.telemetry_utils as t, multiprocessing\n"
        "print(t.tm.__name__, len(multiprocessing.active_children()))\n"
    )
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "0"]
    assert not any(home.rglob("*"))
