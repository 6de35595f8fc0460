from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from .review_util import BackgroundExtract
from .util import SHARED, VIDEOS, run_cli


def pytest_configure(config: pytest.Config) -> None:
    if not SHARED.is_dir():
        raise pytest.UsageError(f"shared test data not found at {SHARED}")


# Modules that run the whole pipeline end to end on the shared videos: the same code
# whatever the Python, so the second Python of CI leaves them out (`-m "not pipeline"`,
# see .ci/run); everything that touches the interpreter or a compiled wheel directly
# (engines, decoders, detectors, images, state, CLI, signals, the server) runs on both.
PIPELINE_MODULES = frozenset(
    {
        "test_accuracy_labels.py",
        "test_batch.py",
        "test_clips.py",
        "test_crop_semantics.py",
        "test_extract_e2e.py",
        "test_extract_restoration.py",
        "test_faceless_ids.py",
        "test_fallbacks.py",
        "test_group_by_person.py",
        "test_hardening.py",
        "test_hardening_duplicates.py",
        "test_hardening_links.py",
        "test_person_from_vid.py",
        "test_reference_face.py",
        "test_resume.py",
        "test_review_browser.py",
        "test_select.py",
        "test_shards.py",
        "test_summary.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the end-to-end modules' tests ``pipeline``. The browser test watches the
    session's extract while it runs: it goes before the other tests of that extract
    (which wait for it to finish); the order is kept else."""
    for item in items:
        if item.path.name in PIPELINE_MODULES:
            item.add_marker(pytest.mark.pipeline)
    users = [i for i in items if "stage_extract" in getattr(i, "fixturenames", ())]
    watchers = [i for i in users if i.path.name == "test_review_browser.py"]
    if users and watchers:
        at = items.index(users[0])
        rest = [i for i in items if i not in watchers]
        items[:] = rest[:at] + watchers + rest[at:]


@pytest.fixture(scope="session", autouse=True)
def _restoration_engine_chosen() -> None:
    """The first restoration on a machine measures the engines and saves the choice in
    the model cache: do it once here, for the models and strengths the default policy
    uses, so that no test's output depends on whether it came first."""
    from personframes.models.catalogue import DEFAULT_MODEL
    from personframes.models.session import ModelSession
    from personframes.restore.loading import engine_choice
    from personframes.restore.policy import RULES

    session = ModelSession()
    for rule in RULES:
        if rule.strength > 0:
            model = rule.model or DEFAULT_MODEL
            engine_choice(session, model, "cpu", "auto", "auto", rule.strength)
    engine_choice(session, DEFAULT_MODEL, "cpu", "auto", "auto", 0.8)  # policy "always"


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


@pytest.fixture(scope="session")
def stage_clips_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """stage_performer extracted once with ``--clips`` (faces not restored: the clips are
    what is tested), for test_clips and test_review_clips; copy it before changing it."""
    out = tmp_path_factory.mktemp("stage_clips") / "out"
    done = run_cli(
        "extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(out), "--clips",
        "--no-face-restoration", "-q", timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out
