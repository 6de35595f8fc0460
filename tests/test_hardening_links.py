"""Issue 28, item 1: a link planted inside ``OUT/.personframes`` never leads outside the
output folder: the rerun is refused with one line and exit 2, and nothing outside is
created, changed or deleted. Item 6: temporary files of killed runs are removed wherever
they are under OUT, not only at its top.

One real extract is made per module; each test takes a copy of it, plants a link, and
reruns a command as a user would (the real CLI in a subprocess).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .util import VIDEOS, run_cli, run_cli_in_process, state_db

STAGE = VIDEOS / "stage_performer.mp4"
FAST = ["--max-frames", "6", "--no-face-restoration"]
EXTRACT = ("extract", str(STAGE), "-o")
PAST_NS = 1_600_000_000_000_000_000  # an mtime no run would give a file it touched


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("links") / "out"
    result = run_cli(*EXTRACT, str(out), *FAST)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def out(finished: Path, tmp_path: Path) -> Path:
    """A copy of the finished output folder (a rerun of the same command skips it)."""
    copy = tmp_path / "out"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def _key(out: Path) -> str:
    return state_db(out).parent.name


def _put(path: Path, data: bytes) -> Path:
    """A file outside OUT with content and an mtime a touch would change."""
    path.write_bytes(data)
    os.utime(path, ns=(PAST_NS, PAST_NS))
    return path


def _snapshot(folder: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Every entry under ``folder`` (links not followed): kind, content, mtime."""
    found: dict[str, tuple[str, bytes | str, int]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            found[str(path.relative_to(folder))] = ("link", os.readlink(path), info.st_mtime_ns)
        elif path.is_dir():
            found[str(path.relative_to(folder))] = ("dir", "", info.st_mtime_ns)
        else:
            found[str(path.relative_to(folder))] = ("file", path.read_bytes(), info.st_mtime_ns)
    return found


def _refused(result: subprocess.CompletedProcess[str], path: Path) -> str:
    """The one line of a refusal naming ``path``, exit 2."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in lines[0] and "link" in lines[0], lines[0]
    return lines[0]


def _replace_by_link(path: Path, target: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target, target_is_directory=target.is_dir())


# -- the cases found in issue 28 -------------------------------------------------------------
def test_lock_file_linked_to_a_file_outside_is_not_written(out: Path, outside: Path) -> None:
    victim = _put(outside / "victim.txt", b"precious\n")
    lock = out / ".personframes" / "locks" / f"{_key(out)}.lock"
    _replace_by_link(lock, victim)
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST), lock)
    assert _snapshot(outside) == before


def test_locks_folder_linked_to_a_folder_outside_is_not_used(out: Path, outside: Path) -> None:
    key = _key(out)
    _put(outside / f"{key}.lock", b"precious\n")
    locks = out / ".personframes" / "locks"
    _replace_by_link(locks, outside)
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST), locks)
    assert _snapshot(outside) == before  # neither overwritten nor deleted


def test_dangling_folder_lock_creates_nothing_outside(out: Path, outside: Path) -> None:
    lock = out / ".personframes" / "folder.lock"
    _replace_by_link(lock, outside / "folder.lock")
    _refused(run_cli(*EXTRACT, str(out), *FAST), lock)
    assert list(outside.iterdir()) == []


def test_dangling_state_database_creates_nothing_outside(out: Path, outside: Path) -> None:
    database = state_db(out)
    _replace_by_link(database, outside / "state.sqlite")
    _refused(run_cli(*EXTRACT, str(out), *FAST), database)
    assert list(outside.iterdir()) == []


def test_state_database_linked_to_one_elsewhere_is_not_used(out: Path, outside: Path) -> None:
    database = state_db(out)
    elsewhere = _put(outside / "state.sqlite", database.read_bytes())
    _replace_by_link(database, elsewhere)
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST), database)
    assert _snapshot(outside) == before  # not read as this video's, no journal beside it


def test_dangling_state_journal_creates_nothing_outside(out: Path, outside: Path) -> None:
    journal = state_db(out).with_name("state.sqlite-journal")
    _replace_by_link(journal, outside / "state.sqlite-journal")
    _refused(run_cli(*EXTRACT, str(out), *FAST, "--force"), journal)
    assert list(outside.iterdir()) == []


def test_dangling_review_database_creates_nothing_outside(out: Path, outside: Path) -> None:
    review = out / ".personframes" / "review.sqlite"
    _replace_by_link(review, outside / "review.sqlite")
    _refused(run_cli_in_process("review", str(out), "--write-manifest"), review)
    assert list(outside.iterdir()) == []


def test_review_database_linked_to_one_elsewhere_is_not_read(out: Path, outside: Path) -> None:
    """The manifest step reads the review (rerun here by --caption)."""
    review = out / ".personframes" / "review.sqlite"
    made = run_cli("review", str(out), "--write-manifest")  # an empty review database
    assert made.returncode == 0, made.stderr
    elsewhere = _put(outside / "review.sqlite", review.read_bytes())
    _replace_by_link(review, elsewhere)
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST, "--caption"), review)
    assert _snapshot(outside) == before


@pytest.mark.parametrize("which", ["lock", "state"])
def test_hard_link_to_a_file_outside_is_not_written_in_place(
    out: Path, outside: Path, which: str
) -> None:
    """Locks and databases are written where they are, not replaced: a hard link (which
    no lstat tells from a file) would carry the writes outside."""
    if which == "lock":
        path = out / ".personframes" / "locks" / f"{_key(out)}.lock"
        elsewhere = _put(outside / "victim.txt", b"precious\n")
    else:
        path = state_db(out)
        elsewhere = _put(outside / "state.sqlite", path.read_bytes())
    path.unlink(missing_ok=True)
    path.parent.mkdir(exist_ok=True)
    os.link(elsewhere, path)
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST, "--force"), path)  # --force: it writes
    assert _snapshot(outside) == before


# -- the state folder's other folders and files ---------------------------------------------
# (videos/, videos/KEY/, temp/, restored/ and before/ were refused as links before issue 28)
@pytest.mark.parametrize("where", ["names", "paths"])
def test_state_folder_linked_elsewhere_is_refused(out: Path, outside: Path, where: str) -> None:
    folder = out / ".personframes" / where
    shutil.copytree(folder, outside / "copy")
    _put(outside / "copy" / "precious.txt", b"keep\n")
    _replace_by_link(folder, outside / "copy")
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST), folder)
    assert _snapshot(outside) == before


@pytest.mark.parametrize("which", ["names/stage_performer.json", "paths/*.json", "video.json"])
def test_state_file_linked_to_a_copy_elsewhere_is_refused(
    out: Path, outside: Path, which: str
) -> None:
    if which == "video.json":
        path = state_db(out).with_name("video.json")
    else:
        (path,) = (out / ".personframes").glob(which)
    elsewhere = _put(outside / path.name, path.read_bytes())
    _replace_by_link(path, elsewhere)
    before = _snapshot(outside)
    _refused(run_cli(*EXTRACT, str(out), *FAST), path)
    assert _snapshot(outside) == before


# -- item 6: temporary files of killed runs, wherever they are ------------------------------
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from personframes.output.writer import atomic_file
writing = [atomic_file(Path(name)) for name in sys.argv[1:]]
for file in writing:  # each file begun (its temporary file made), none finished
    file.__enter__()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_temp_files_of_killed_runs_are_removed_everywhere_under_out(out: Path) -> None:
    state = out / ".personframes"
    (out / "person1").mkdir()
    (state / "restored" / _key(out)).mkdir(parents=True)
    targets = [
        out / "x.jpg",  # an output
        out / "person1" / "x.jpg",  # --group-by-person
        state_db(out).with_name("video.json"),  # the state folder, at any depth
        state / "names" / "x.json",
        state / "restored" / _key(out) / "x.png",
    ]
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, *map(str, targets)])
    assert killed.returncode == -9
    left = sorted(out.rglob(".pf-tmp-*"))
    assert len(left) == len(targets) and all(p.stat().st_size == 0 for p in left), left
    # a live process's temporary file (this one's) stays
    live = state_db(out).with_name(f".pf-tmp-{os.getpid()}@{socket.gethostname()}~x.json")
    live.write_text("{}")
    result = run_cli(*EXTRACT, str(out), *FAST)
    assert result.returncode == 0, result.stderr
    assert sorted(out.rglob(".pf-tmp-*")) == [live]
