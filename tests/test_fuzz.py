"""A bounded fuzz pass (hypothesis) over what users hand the program: config files,
image headers, video headers, and a state database edited by hand.

The targets live in ``tests/fuzz_targets.py``; ``bench/fuzz.py`` runs them far longer and
prints every distinct finding as JSON. Here each runs a few examples (``-m fuzz`` selects
these tests, ``-m "not fuzz"`` leaves them out). ``manifest`` (``{video}_info.json``) is
not a target: nothing in ``personframes`` reads it back (the manifest step only checks
that it exists), so its content cannot reach the program.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from .fuzz_targets import (
    CONFIG_CASES,
    IMAGE_CASES,
    STATE_CASES,
    ConfigCase,
    ImageCase,
    Patch,
    StateBase,
    StateCase,
    check_config,
    check_image,
    check_state,
    check_video,
    make_state_base,
    video_bases,
    video_cases,
)

pytestmark = pytest.mark.fuzz

QUICK = settings(
    max_examples=25,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    derandomize=True,  # the same examples on every run: CI does not flip between runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Each state example is a real ``personframes extract`` run (about a second): fewer of
# them, and a failure is reported as generated (shrinking would rerun extract many times).
STATE = settings(QUICK, max_examples=8, phases=[Phase.explicit, Phase.reuse, Phase.generate])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fresh(scratch: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=scratch))


@QUICK
@given(case=CONFIG_CASES)
def test_config_files_give_a_config_or_a_config_error(case: ConfigCase, scratch: Path) -> None:
    check_config(case, _fresh(scratch))


@QUICK
@given(case=IMAGE_CASES)
def test_image_headers_give_an_image_or_an_input_error(case: ImageCase, scratch: Path) -> None:
    check_image(case, _fresh(scratch))


@pytest.fixture(scope="module")
def videos(scratch: Path) -> dict[str, bytes]:
    return video_bases(_fresh(scratch))


def test_video_headers_give_frames_or_an_input_error(
    videos: dict[str, bytes], scratch: Path
) -> None:
    @QUICK
    @given(case=video_cases(videos))
    def run(case: Patch) -> None:
        check_video(case, videos, _fresh(scratch))

    run()


@pytest.fixture(scope="module")
def state_base(scratch: Path) -> StateBase:
    return make_state_base(_fresh(scratch))


@pytest.mark.slow
@STATE
@given(case=STATE_CASES)
def test_edited_state_database_then_rerun(
    case: StateCase, state_base: StateBase, scratch: Path
) -> None:
    check_state(case, state_base, _fresh(scratch))
