"""Issue 28, item 2: ``--executor ray`` where Ray never answers. Joining an address that
accepts connections but is not Ray, or starting a local cluster, has a deadline
(``--ray-timeout``), then one line and exit 2; SIGINT and SIGTERM end the wait at once;
the local cluster's temporary folder (mode 700) is gone whatever happens, and so are its
processes; an address is used as given (Ray rewrote 127.0.0.1 to the machine's outside
address); with no network at all the run says so at once.

Every run is the real CLI with ``TMPDIR`` a short folder of the test's own, where the
local cluster's folder goes; its processes, Ray's included, are found by that variable
in their environment."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .util import VIDEOS

pytest.importorskip("ray", reason='the ray extra is not installed (pip install ".[ray]")')

STAGE = VIDEOS / "stage_performer.mp4"
FAST = ["--max-frames", "2", "--no-face-restoration"]


class SilentServer:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word (not Ray);
    it counts the connections it accepted."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.held.append(connection)
                self.accepted += 1

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def temp_root() -> Iterator[Path]:
    """The runs' TMPDIR: short (a Ray socket's path has at most 107 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="pfh-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _processes_of(temp_root: Path) -> dict[int, str]:
    """The live processes started by a run with ``TMPDIR=temp_root`` (the CLI, the Ray
    processes it started, theirs: each inherits it), with their command lines."""
    marker = os.fsencode(f"TMPDIR={temp_root}") + b"\0"
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes():
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        found[int(entry.name)] = command.decode(errors="replace")[:200]
    return found


@contextlib.contextmanager
def _started(
    args: list[str], temp_root: Path, prefix: list[str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """``personframes ARGS`` with ``TMPDIR=temp_root``; every process it left is killed
    afterwards, whatever the test found."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONFRAMES_", "RAY_"))}
    env.update(TMPDIR=str(temp_root), RAY_USAGE_STATS_ENABLED="0")
    process = subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "personframes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield process
    finally:
        for pid in [process.pid, *_processes_of(temp_root)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.communicate()


def _ended(process: subprocess.Popen[str], timeout: float) -> tuple[int, str, float]:
    """The exit code, stderr, and seconds the process took to end from now."""
    started = time.monotonic()
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr, time.monotonic() - started


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _nothing_left(temp_root: Path) -> None:
    """No process of the run is alive (Ray's GCS, raylet, agents, workers, the probe),
    and the temporary folder is empty."""
    deadline = time.monotonic() + 15
    while _processes_of(temp_root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_of(temp_root) == {}, "processes of the run outlived it"
    assert list(temp_root.iterdir()) == [], "left in the temporary folder"


def _cluster_folder(process: subprocess.Popen[str], temp_root: Path) -> Path:
    """The local cluster's folder, once the run has made it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(temp_root.glob("pf-ray-*"))
        if found:
            return found[0]
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.05)
    raise AssertionError("no pf-ray-* folder appeared")


def test_a_silent_address_fails_at_the_deadline_in_one_line_and_is_used_as_given(
    silent: SilentServer, temp_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["extract", str(STAGE), "-o", str(out), *FAST]
    args += ["--executor", "ray", "--ray-address", silent.address, "--ray-timeout", "6"]
    with _started(args, temp_root) as process:
        code, stderr, seconds = _ended(process, timeout=120)
        line = _one_line(stderr)
        assert code == 2, stderr
        assert line.startswith(f"personframes: error: --ray-address {silent.address}: ")
        assert "no Ray answered within 6 s" in line and "--ray-timeout" in line, line
        assert seconds < 6 + 20, f"{seconds:.1f} s"
        # Our check, then Ray itself at 127.0.0.1 (rewritten, it would have gone to the
        # machine's outside address, where this server does not listen).
        assert silent.accepted >= 2, f"{silent.accepted} connections"
        _nothing_left(temp_root)
    assert not (out / ".personframes").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_joining_ends_the_run_at_once_in_one_line(
    silent: SilentServer, temp_root: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    args = ["extract", str(STAGE), "-o", str(tmp_path / "out"), *FAST]
    args += ["--executor", "ray", "--ray-address", silent.address]  # the 60 s default
    with _started(args, temp_root) as process:
        deadline = time.monotonic() + 60
        while silent.accepted < 2 and time.monotonic() < deadline:  # Ray is trying
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.05)
        time.sleep(1)
        process.send_signal(sig)
        code, stderr, seconds = _ended(process, timeout=30)
        line = _one_line(stderr)
        assert code == 128 + sig, stderr
        assert line.startswith("personframes: interrupted: stopped by") and sig.name in line
        assert f"joining the Ray cluster at {silent.address}" in line, line
        assert seconds < 5, f"{seconds:.1f} s"
        _nothing_left(temp_root)


def test_a_local_cluster_not_started_by_the_deadline_leaves_nothing_behind(
    temp_root: Path, tmp_path: Path
) -> None:
    """3 s is less than Ray takes to start a cluster and answer (10 s here)."""
    args = ["extract", str(STAGE), "-o", str(tmp_path / "out"), *FAST]
    args += ["--executor", "ray", "--ray-timeout", "3"]
    with _started(args, temp_root) as process:
        folder = _cluster_folder(process, temp_root)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        code, stderr, _ = _ended(process, timeout=120)
        line = _one_line(stderr)
        assert code == 2, stderr
        assert "cannot start a local Ray cluster within 3 s" in line, line
        _nothing_left(temp_root)


def test_sigint_while_a_local_cluster_starts_ends_the_run_and_removes_its_folder(
    temp_root: Path, tmp_path: Path
) -> None:
    args = ["extract", str(STAGE), "-o", str(tmp_path / "out"), *FAST, "--executor", "ray"]
    with _started(args, temp_root) as process:
        folder = _cluster_folder(process, temp_root)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        time.sleep(1.5)  # Ray is importing, or starting its processes
        process.send_signal(signal.SIGINT)
        code, stderr, seconds = _ended(process, timeout=30)
        line = _one_line(stderr)
        assert code == 130, stderr
        assert line.startswith("personframes: interrupted: stopped by SIGINT"), line
        assert seconds < 10, f"{seconds:.1f} s"
        _nothing_left(temp_root)


def _no_network() -> list[str]:
    """The command prefix that runs a command with no network (the loopback interface
    down); skips where a network namespace cannot be made."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is not installed: no network namespace to run without network")
    prefix = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    trial = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if trial.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {trial.stderr.strip()}")
    return prefix


@pytest.mark.parametrize("joining", [False, True], ids=["local-cluster", "address"])
def test_with_no_network_the_run_says_so_at_once(
    temp_root: Path, tmp_path: Path, joining: bool
) -> None:
    prefix = _no_network()
    args = ["extract", str(STAGE), "-o", str(tmp_path / "out"), *FAST, "--executor", "ray"]
    if joining:
        args += ["--ray-address", "127.0.0.1:6379"]
    with _started(args, temp_root, prefix) as process:
        code, stderr, seconds = _ended(process, timeout=120)
        line = _one_line(stderr)
        assert code == 2, stderr
        if joining:
            assert "cannot join the Ray cluster there: nothing answers" in line, line
        else:
            assert "the loopback interface (127.0.0.1) does not work here" in line, line
        assert seconds < 20, f"{seconds:.1f} s"
        _nothing_left(temp_root)
