"""Cores a process may use (affinity, cgroup quota) and each engine's share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from personframes import cores


@pytest.fixture(autouse=True)
def _one_worker() -> Iterator[None]:
    yield
    cores.set_workers(1)


def test_cgroup_v2_and_v1_quotas_are_read(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cores.cgroup_cpu_quota(v2) == 1.5
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cores.cgroup_cpu_quota(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cores.cgroup_cpu_quota(v1) == 0.5
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cores.cgroup_cpu_quota(v1) is None
    assert cores.cgroup_cpu_quota(tmp_path / "none") is None


def test_a_quota_caps_the_affinity(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one CPU
    assert cores.available_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text(f"{(affinity + 4) * 100000} 100000\n")
    assert cores.available_cores(tmp_path) == affinity  # a quota above: the affinity
    (tmp_path / "cpu.max").write_text("20000 100000\n")  # a fifth of a CPU: still 1
    assert cores.available_cores(tmp_path) == 1


def test_workers_share_the_cores() -> None:
    available = cores.available_cores()
    assert cores.engine_threads() == available
    cores.set_workers(available)
    assert cores.engine_threads() == 1
    cores.set_workers(available * 4)
    assert cores.engine_threads() == 1  # never zero


def test_the_ncnn_engine_takes_its_share() -> None:
    from personframes.models import get_model, resolve_model
    from personframes.models.catalogue import DEFAULT_MODEL
    from personframes.restore.engines import create_engine

    cores.set_workers(max(1, cores.available_cores()))
    engine = create_engine("ncnn")
    engine.load(resolve_model(get_model(DEFAULT_MODEL)), "cpu")
    assert engine._net is not None and engine._net.opt.num_threads == 1  # type: ignore[attr-defined]


def test_openmp_threads_wait_passively_unless_the_user_chose(tmp_path: Path) -> None:
    """Set before any engine loads OpenMP (bench/restore_load.py measures why)."""
    import subprocess
    import sys

    code = "import os, personframes, ncnn; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE", out.stderr
