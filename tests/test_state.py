"""The state: a video's database opened by several processes at once, names claimed
by processes at once, and the remembered video keys."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from personframes.state import index as folder_index
from personframes.state.index import FolderIndex
from personframes.state.video import VideoState

KEY = "0123456789abcdef0123456789abcdef"


def _open_together(folder: str, barrier: Any, results: Any, slot: int) -> None:
    barrier.wait()
    try:
        VideoState(Path(folder), KEY).close()
        results[slot] = 1
    except Exception:  # reported through results
        results[slot] = -1


def _claim_together(folder: str, barrier: Any, results: Any, slot: int) -> None:
    """Claim the name ``clip`` for video ``slot`` (a key of its own); the number taken
    (1 for ``clip``, 2 for ``clip-2``...) goes into ``results``."""
    video = Path(folder).parent / f"{slot}" / "clip.mp4"
    barrier.wait()
    try:
        stem = FolderIndex(Path(folder)).claim_stem(f"{slot:032x}", video, "clip")
        results[slot] = 1 if stem == "clip" else int(stem.rsplit("-", 1)[1])
    except Exception:  # reported through results
        results[slot] = -1


def _together(target: Any, folder: Path, workers: int = 6) -> list[int]:
    """Run ``target(folder, barrier, results, slot)`` in ``workers`` processes released
    at once by a barrier; what each put in its slot of ``results``."""
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(workers)
    results = spawn.Array("i", workers)
    procs = [
        spawn.Process(target=target, args=(str(folder), barrier, results, i))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    return list(results)


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    for attempt in range(8):  # new folders: the race needs a fresh database
        results = _together(_open_together, tmp_path / f"out{attempt}")
        assert results == [1] * 6, f"attempt {attempt}: {results}"


def test_processes_claiming_one_name_at_once_get_one_each(tmp_path: Path) -> None:
    """Shards on several hosts claim names with an exclusive create, never a shared
    database: six videos named clip.mp4 get clip, clip-2 ... clip-6, each once."""
    folder = tmp_path / "out"
    results = _together(_claim_together, folder)
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    index = FolderIndex(folder)
    for slot, number in enumerate(results):  # and each keeps it on the next run
        stem = "clip" if number == 1 else f"clip-{number}"
        assert index.claim_stem(f"{slot:032x}", tmp_path / "x" / "clip.mp4", "clip") == stem
        assert index.holder_of(stem) == str((tmp_path / f"{slot}" / "clip.mp4").resolve())


def test_a_changed_file_keeps_its_name_and_a_new_one_takes_the_batchs_choice(
    tmp_path: Path,
) -> None:
    index = FolderIndex(tmp_path / "out")
    video = tmp_path / "a" / "clip.mp4"
    video.parent.mkdir()
    video.write_bytes(b"first")
    first = index.video_key(video)
    assert index.claim_stem(first, video, "clip", "clip") == "clip"
    video.write_bytes(b"second, longer")
    second = index.video_key(video)
    assert second != first
    assert index.claim_stem(second, video, "clip") == "clip"  # same path: same name
    other = tmp_path / "b" / "clip.mp4"
    assert index.claim_stem("f" * 32, other, "clip", "clip-2") == "clip-2"
    assert index.claim_stem("e" * 32, other, "clip", "clip-2") == "clip-3"


def test_video_key_is_remembered_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"first version")
    reads: list[Path] = []
    real = folder_index.content_hash
    monkeypatch.setattr(folder_index, "content_hash", lambda p: reads.append(p) or real(p))
    store = FolderIndex(tmp_path / "out")
    first = store.video_key(video)
    assert store.video_key(video) == first and len(reads) == 1  # not read again
    assert store.video_key(video, remembered=False) == first and len(reads) == 2
    video.write_bytes(b"second version")  # new size and time: read, new key
    assert store.video_key(video) != first and len(reads) == 3
    os.utime(video, ns=(1, 1))  # same bytes, new time: read again, same key
    assert store.video_key(video) == real(video) and len(reads) == 4


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


def test_a_name_claim_that_does_not_parse_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = FolderIndex(tmp_path / "out")
    claims = tmp_path / "out" / ".personframes" / "names"
    claims.mkdir(parents=True)
    (claims / "clip.json").write_bytes(b"\xff{not json")
    assert index.claim_stem(KEY, tmp_path / "clip.mp4", "clip") == "clip"
    assert (claims / "clip.json.invalid").read_bytes() == b"\xff{not json"  # kept
    assert "not a name claim personframes wrote" in caplog.text
    assert index.holder_of("clip") == str((tmp_path / "clip.mp4").resolve())
