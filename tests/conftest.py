from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from personframes.restore.loading import engine_for

from .review_util import BackgroundExtract
from .util import SHARED


def pytest_configure(config: pytest.Config) -> None:
    if not SHARED.is_dir():
        raise pytest.UsageError(f"shared test data not found at {SHARED}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser test watches the session's extract while it runs: it goes before the
    other tests of that extract (which wait for it to finish); the order is kept else."""
    users = [i for i in items if "stage_extract" in getattr(i, "fixturenames", ())]
    watchers = [i for i in users if i.path.name == "test_review_browser.py"]
    if users and watchers:
        at = items.index(users[0])
        rest = [i for i in items if i not in watchers]
        items[:] = rest[:at] + watchers + rest[at:]


@pytest.fixture(scope="session", autouse=True)
def _restoration_engine_chosen() -> None:
    """Without a saved choice every process would measure the restoration engines (and
    say so): save it once, as `personframes models tune` does, before the tests."""
    from personframes.cpu import native_bf16
    from personframes.models import get_model, resolve_model
    from personframes.models.catalogue import DEFAULT_MODEL
    from personframes.models.session import ModelSession
    from personframes.restore.engine_choice import ChoiceCache, candidates, choice_key, choose
    from personframes.restore.rrdbnet_onnx import save_rrdbnet_graph

    spec = get_model(DEFAULT_MODEL)
    cands, _ = candidates(spec, "auto", "fp32", native_bf16())
    if len(cands) > 1 and ChoiceCache().get(choice_key(spec, cands)) is None:
        save_rrdbnet_graph(resolve_model(spec))
        session = ModelSession()
        choose(spec, lambda c: engine_for(session, DEFAULT_MODEL, "cpu", c), save=True)


@pytest.fixture(autouse=True)
def _no_unexpected_errors(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Fail any test that logs an ERROR unless it is marked ``expect_error_log``."""
    caplog.set_level(logging.WARNING, logger="personframes")
    yield
    if request.node.get_closest_marker("expect_error_log"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {[r.getMessage() for r in errors]}"


@pytest.fixture(scope="session")
def stage_extract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundExtract]:
    """An extract of a shared video running in the background (see review_util)."""
    extract = BackgroundExtract(tmp_path_factory.mktemp("review") / "out")
    yield extract
    if extract.process.poll() is None:
        extract.process.kill()
        extract.process.wait()
