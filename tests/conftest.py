from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from .util import SHARED


def pytest_configure(config: pytest.Config) -> None:
    if not SHARED.is_dir():
        raise pytest.UsageError(f"shared test data not found at {SHARED}")


@pytest.fixture(scope="session", autouse=True)
def _restoration_engine_chosen() -> None:
    """The restoration engine is measured once per machine (and said at INFO then): do
    it before the tests, so that no CLI test's output depends on being the first."""
    from personframes.models.catalogue import DEFAULT_MODEL
    from personframes.models.session import ModelSession

    ModelSession().engine_choice(DEFAULT_MODEL, "cpu")


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
