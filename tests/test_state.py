"""The state store: opened by several processes at once, and the remembered video keys."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from personframes.pipeline import state
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


def test_video_key_is_remembered_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"first version")
    reads: list[Path] = []
    real = state.content_hash
    monkeypatch.setattr(state, "content_hash", lambda p: reads.append(p) or real(p))
    store = StateStore(tmp_path / "out")
    try:
        first = store.video_key(video)
        assert store.video_key(video) == first and len(reads) == 1  # not read again
        assert store.video_key(video, remembered=False) == first and len(reads) == 2
        video.write_bytes(b"second version")  # new size and time: read, new key
        assert store.video_key(video) != first and len(reads) == 3
        os.utime(video, ns=(1, 1))  # same bytes, new time: read again, same key
        assert store.video_key(video) == real(video) and len(reads) == 4
    finally:
        store.close()


def test_output_files_get_the_umask_mode_without_setting_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the umask by setting it changed it, for an instant, for every thread."""
    from personframes.output import writer

    previous = os.umask(0o027)
    try:
        writer._file_mode.cache_clear()

        def no_umask(mask: int) -> int:
            raise AssertionError("os.umask called while writing")

        monkeypatch.setattr(writer.os, "umask", no_umask)
        writer.atomic_write_bytes(tmp_path / "a.txt", b"x")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(previous)
        writer._file_mode.cache_clear()
