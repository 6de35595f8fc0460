"""The state store opened by several processes at once (``--workers`` on a new folder)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from personframes.pipeline.state import StateStore


def _open_together(folder: str, barrier: Any, results: Any, slot: int) -> None:
    barrier.wait()
    try:
        StateStore(Path(folder)).close()
        results[slot] = 1
    except Exception:  # reported through results
        results[slot] = -1


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(8):  # new folders: the race needs a fresh database
        workers = 6
        barrier = spawn.Barrier(workers)
        results = spawn.Array("i", workers)
        folder = tmp_path / f"out{attempt}"
        procs = [
            spawn.Process(target=_open_together, args=(str(folder), barrier, results, i))
            for i in range(workers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert list(results) == [1] * workers, f"attempt {attempt}: {list(results)}"
