"""``--executor ray``: a batch on a Ray cluster (two workers on 127.0.0.1) gives the same
files as a local run, survives a worker killed mid-video, and stops cleanly on SIGINT."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from personframes.cli.summary import print_summary
from personframes.config import Config
from personframes.errors import ConfigError
from personframes.pipeline import ray_dispatch, ray_pool
from personframes.pipeline.batch import BatchResult, run_batch

from .util import VIDEOS, run_cli

WORKER = "ray::VideoWorker"
RUNNING = f"{WORKER}.run"  # an actor's process title while it processes a video


@dataclass
class Cluster:
    address: str
    session: int  # the session id of the cluster's processes (and only theirs)
    env: dict[str, str]


def _session_of(pid: int) -> int | None:
    """The session of a live process (None: gone, or a zombie its parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, _ppid, _group, session = stat.rsplit(")", 1)[1].split()[:4]
    return None if state == "Z" else int(session)


def _processes(session: int, title: str = "") -> list[int]:
    """The pids of the cluster's processes whose command line starts with ``title``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(title.encode()) and _session_of(int(entry.name)) == session:
            found.append(int(entry.name))
    return found


def _end(session: int) -> None:
    """End the cluster's processes (SIGTERM, then SIGKILL): this cluster's only, never
    ``ray stop``, which ends every Ray process of the machine."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 15)):
        for pid in _processes(session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _processes(session) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not _processes(session), "Ray processes left behind"


def _gone(session: int, title: str, timeout: float = 15) -> bool:
    """Whether the cluster's processes titled ``title`` are gone (within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while _processes(session, title) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _processes(session, title)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A Ray cluster on 127.0.0.1 with room for two workers, in a session of its own."""
    pytest.importorskip("ray", reason='the ray extra is not installed (pip install ".[ray]")')
    # Short: Ray's sockets live under it, and a socket's path has at most 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="pf-ray-test-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONFRAMES_", "RAY_"))}
    env.update(
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # one machine: 127.0.0.1 stays 127.0.0.1
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),  # never saved in ~/.ray
        RAY_USAGE_STATS_ENABLED="0",
    )
    port = _free_port()
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    started = time.monotonic()
    start = subprocess.Popen(
        [
            ray,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # the cluster's processes: this session, ended below
    )
    try:
        output, _ = start.communicate(timeout=120)
        assert start.returncode == 0, output
        print(f"Ray cluster started in {time.monotonic() - started:.1f} s")
        yield Cluster(f"127.0.0.1:{port}", start.pid, env)
    finally:
        if start.poll() is None:
            start.kill()
        _end(start.pid)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path, Path]:
    """The command (a corrupt video first, then both shared ones), the output folder
    it writes, and a copy of what a plain local run of it wrote there."""
    base = tmp_path_factory.mktemp("ray")
    broken = base / "broken.mp4"
    broken.write_bytes(os.urandom(100_000))
    out = base / "out"
    args = [
        "extract",
        str(broken),
        str(VIDEOS / "sitting_window.mp4"),
        str(VIDEOS / "stage_performer.mp4"),
        "-o",
        str(out),
        "--max-frames",
        "10",
        "--pipeline-commit-every",
        "2",  # a video killed mid-scan has progress to resume from
        # Restoration off: about 15 s a face on 2 cores, too long here.
        "--no-face-restoration",
    ]
    started = time.monotonic()
    local = run_cli(*args)
    print(f"local run: {time.monotonic() - started:.1f} s")
    assert local.returncode == 1, local.stderr
    assert "2 done, 0 skipped, 1 failed" in local.stderr
    local_copy = base / "local"
    out.rename(local_copy)
    return args, out, local_copy


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of an output folder but the state folder's, by relative path."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".personframes" not in p.relative_to(folder).parts
    }


def _start(cluster: Cluster, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "personframes",
                *args,
                "--executor",
                "ray",
                "--ray-address",
                cluster.address,
                "--workers",
                "2",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=cluster.env,
        )


def _busy_workers(cluster: Cluster, process: subprocess.Popen[bytes], log: Path) -> list[int]:
    """Once a worker has been processing a video for a second and a half: the workers
    that are processing one (that one first)."""
    since: dict[int, float] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended first:\n{log.read_text()}"
        now = time.monotonic()
        since = {pid: since.get(pid, now) for pid in _processes(cluster.session, RUNNING)}
        ready = sorted((t, pid) for pid, t in since.items() if now - t >= 1.5)
        if ready:
            return [pid for _, pid in ready] + [p for p in since if p != ready[0][1]]
        time.sleep(0.1)
    raise AssertionError(f"no worker processed a video:\n{log.read_text()}")


def _run_until_busy(
    cluster: Cluster, batch: tuple[list[str], Path, Path], log_name: str
) -> tuple[subprocess.Popen[bytes], Path, list[int]]:
    """The batch's command started afresh on the cluster, once a worker is busy: the
    process, its log, and the busy workers (the longest busy first)."""
    args, out, _ = batch
    shutil.rmtree(out, ignore_errors=True)
    log = out.parent / log_name
    process = _start(cluster, args, log)
    return process, log, _busy_workers(cluster, process, log)


@pytest.mark.slow
def test_a_worker_killed_mid_video_is_replaced_and_the_files_match_a_local_run(
    cluster: Cluster, batch: tuple[list[str], Path, Path]
) -> None:
    started = time.monotonic()
    process, log, busy = _run_until_busy(cluster, batch, "ray-killed.log")
    out, local = batch[1:]
    victim = busy[0]
    os.kill(victim, signal.SIGKILL)
    code = process.wait(timeout=300)
    print(f"Ray run: {time.monotonic() - started:.1f} s")
    text = log.read_text()
    assert code == 1, text
    assert "Traceback" not in text
    died = [line for line in text.splitlines() if "its Ray worker died" in line]
    assert len(died) == 1 and f"pid {victim}" in died[0], text
    assert "retry 1 of 2" in died[0] and "broken.mp4" not in died[0], text
    assert "2 done, 0 skipped, 1 failed" in text
    assert "worker deaths: 1 video run repeated on another worker" in text
    assert "failed: " in text and "broken.mp4" in text
    ray_files, local_files = _files(out), _files(local)
    assert ray_files.keys() == local_files.keys()
    assert [name for name in ray_files if ray_files[name] != local_files[name]] == []
    assert _gone(cluster.session, WORKER), "the run's actors outlived it"


@pytest.mark.slow
def test_sigint_stops_the_workers_and_a_rerun_resumes(
    cluster: Cluster, batch: tuple[list[str], Path, Path]
) -> None:
    process, log, _ = _run_until_busy(cluster, batch, "ray-interrupted.log")
    args, out, local = batch
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130, log.read_text()
    text = log.read_text()
    assert "interrupted: stopped by SIGINT" in text and "Traceback" not in text, text
    assert _gone(cluster.session, WORKER), "the run's actors outlived it"

    rerun = out.parent / "ray-rerun.log"
    process = _start(cluster, args, rerun)
    assert process.wait(timeout=300) == 1, rerun.read_text()
    assert "2 done, 0 skipped, 1 failed" in rerun.read_text()
    assert _files(out) == _files(local)


def test_without_ray_installed_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_dispatch.importlib.util, "find_spec", lambda name: None)
    config = Config.model_validate(
        {"output": {"output_dir": str(tmp_path / "out")}, "pipeline": {"executor": "ray"}}
    )
    with pytest.raises(ConfigError, match=r'pip install "personframes\[ray\]"'):
        run_batch([VIDEOS / "stage_performer.mp4"], config)


def test_the_summary_counts_the_videos_run_again() -> None:
    console = Console(record=True, width=100, file=io.StringIO())
    print_summary(BatchResult(retries=2), console)
    assert "worker deaths: 2 video runs repeated on another worker" in console.export_text()


def test_a_worker_running_another_version_is_refused() -> None:
    hello = {"version": "0.0.1", "ip": "10.0.0.7", "pid": 1, "node": "n", "cwd_ok": True}
    with pytest.raises(
        ConfigError, match=r"personframes \S+ runs here but 0\.0\.1 on .*10\.0\.0\.7"
    ):
        ray_pool.check_hello(hello, Config())


def test_the_cli_says_an_unreachable_cluster_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason='the ray extra is not installed (pip install ".[ray]")')
    result = run_cli(
        "extract",
        str(VIDEOS / "stage_performer.mp4"),
        "-o",
        str(tmp_path / "out"),
        "--executor",
        "ray",
        "--ray-address",
        f"127.0.0.1:{_free_port()}",
        timeout=180,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("personframes:")]
    assert lines and "cannot join the Ray cluster there" in lines[-1], result.stderr
    assert "Traceback" not in result.stderr
