"""How many CPU cores this process may use, and how many threads an engine gets.

The cores a process may use are its CPU affinity (``sched_getaffinity``, which
``taskset`` and container cpusets narrow), capped by a cgroup CPU quota (v2
``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``: a container limited to
1.5 CPUs gets 1 thread per engine, not one per host core). ``--workers N`` runs N
engines side by side: each gets its share (``set_workers``), so two engines never
fight over the same cores.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
_workers = 1


def _quota_v2(root: Path) -> float | None:
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _quota_v1(root: Path) -> float | None:
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs the cgroup quota allows (e.g. 1.5), or None without a quota."""
    quota = _quota_v2(root)
    return quota if quota is not None else _quota_v1(root)


def available_cores(root: Path = CGROUP) -> int:
    """Cores this process may use: its affinity, capped by the cgroup quota (>= 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def set_workers(workers: int) -> None:
    """This process is one of ``workers`` that share the cores (``--workers``)."""
    global _workers
    _workers = max(1, workers)


def engine_threads() -> int:
    """Threads for one engine: this process's share of the available cores."""
    return max(1, available_cores() // _workers)
