"""Starting a local Ray cluster, or joining the one at ``--ray-address``, within a
deadline (``pipeline.ray_timeout``) and stoppable by SIGINT/SIGTERM at every moment.

Ray 2.60's ``ray.init`` never gives up on an address that accepts connections but is not
Ray, nor on a cluster it cannot reach (the loopback interface down), and it waits in code
below Python, where no signal handler runs. So nothing here waits on Ray in this thread:

- a local cluster is ``ray start --head --block`` in a session of its own, which is
  ended as a whole (its processes, agents and workers), whatever happens; its temporary
  folder is made mode 700 (Ray makes the one it is given, inside, world-writable) and
  removed at the end;
- an address (the local cluster's too) is first tried by a plain TCP connection
  (nothing answering at --ray-address is said at once), then by ``ray.init`` in a child
  process whose output is kept (Ray's retry lines are not the user's to read), given up
  on at the deadline or a signal;
- then this process's own ``ray.init`` runs on a thread of its own, waited for a
  quarter second at a time (given ``JOIN_S`` even past the deadline, as the cluster has
  just answered: given up on half done, it could take the process down as it exits).

Every wait ends at the deadline with one line, or at once when a signal has set the stop
flag. The child processes die with this one, even killed outright (``PR_SET_PDEATHSIG``).

An address is used as given: Ray rewrites 127.0.0.1 to the machine's outside address
unless told that the cluster is this one machine (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
read when ray is imported), which a loopback address says.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ipaddress
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, Interrupted, ProcessingError, debug_enabled, printable
from .context import StopFlag

log = logging.getLogger(__name__)

CONNECT_S = 10.0  # how long a TCP connection to --ray-address may take
SLICE_S = 0.25  # how often the driver looks at its stop flag and the deadline
END_S = 10.0  # how long a local cluster has to stop before its processes are killed
JOIN_S = 30.0  # how long this process's join may take once the probe has joined
TIMEOUT_FLAG = "--ray-timeout"
TEMP_ROOT_MAX = 20  # bytes; /pf-ray-X/ray/session_DATE_TIME_PID/sockets/plasma_store: 84 more
# "Ray connects to the cluster at ADDRESS, or says why not": run in a child process, so
# that one that never answers can be given up on, and its retry lines kept from the user.
PROBE = """
import logging, sys
import ray
try:
    ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", flush=True)
    sys.exit(3)
ray.shutdown()
"""


def one_line(exc: BaseException | str) -> str:
    """A Ray error's message on one line, without its traceback."""
    text = exc if isinstance(exc, str) else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith(("Traceback", "File ", "^"))]
    fallback = "no reason given" if isinstance(exc, str) else type(exc).__name__
    return printable(" ".join(kept or lines or [fallback]))[:500]


class _Deadline:
    """The time a start or join must be done by, and what stops the wait sooner."""

    def __init__(self, seconds: float, stop: StopFlag, doing: str) -> None:
        self.seconds, self.stop, self.doing = seconds, stop, doing
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def check(self, late: Callable[[], Exception]) -> None:
        """Raise Interrupted once a signal has set the stop flag, ``late()`` once the
        deadline has passed."""
        if self.stop.is_set():
            signum = self.stop.signum or signal.SIGINT
            name = signal.Signals(signum).name
            raise Interrupted(f"stopped by {name} while {self.doing}; no video started", signum)
        if self.left() <= 0:
            raise late()

    def at_least(self, seconds: float) -> _Deadline:
        """This deadline, or ``seconds`` from now if that is later."""
        longer = _Deadline(self.seconds, self.stop, self.doing)
        longer.end = max(self.end, time.monotonic() + seconds)
        return longer

    def wait(self, done: Callable[[float], bool], late: Callable[[], Exception]) -> None:
        """Wait until ``done(seconds)`` (which waits up to ``seconds``) says True."""
        while not done(min(SLICE_S, max(self.left(), 0.01))):
            self.check(late)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _environment(wanted: dict[str, str]) -> Iterator[None]:
    """``wanted`` set in the environment while the block runs (a variable the user set
    keeps the user's value), as it was afterwards."""
    saved = {key: os.environ.get(key) for key in wanted}
    for key, value in wanted.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _local_cluster_env() -> Iterator[str]:
    """What a local cluster started here needs, set while it runs (read by its processes,
    and by this one when ray is imported): its addresses on the loopback interface only,
    token authentication with a token that lives only in this process and its children
    (Ray would otherwise save one in ~/.ray), and a temporary folder of its own (yielded),
    removed afterwards."""
    wanted = {
        # Ray resolves 127.0.0.1 to the host's address unless it is told the cluster
        # is one machine; then it binds the loopback interface only.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    if os.environ.get("RAY_AUTH_MODE") is not None:  # the user's choice of authentication
        del wanted["RAY_AUTH_MODE"], wanted["RAY_AUTH_TOKEN"]
    # Made mode 700 by mkdtemp; Ray makes the folder it is given (inside) world-writable.
    folder = tempfile.mkdtemp(prefix="pf-ray-", dir=_temp_root())
    try:
        with _environment(wanted):
            yield folder
    finally:
        if debug_enabled():
            log.info("the local Ray cluster's files are kept in %s", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _temp_root() -> str | None:
    """The system's temporary folder (``TMPDIR``) when its path is short, else /tmp: Ray's
    sockets live in the cluster's folder, and a socket's path has at most 107 bytes."""
    root = tempfile.gettempdir()
    if len(os.fsencode(root)) <= TEMP_ROOT_MAX:
        return root
    return "/tmp" if os.path.isdir("/tmp") else None


def _check_loopback() -> None:
    """A local cluster talks to itself over 127.0.0.1: where that does not work (no
    network, the loopback interface down) Ray would wait for ever."""
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            socket.create_connection(server.getsockname(), timeout=2).close()
    except OSError as exc:
        raise ConfigError(
            "cannot start a local Ray cluster: the loopback interface (127.0.0.1) does not "
            f"work here ({exc.strerror or exc}); bring it up (ip link set lo up) or give "
            "--ray-address"
        ) from None


def _answers(address: str, deadline: _Deadline) -> None:
    """A ``host:port`` that nothing answers at is said at once. Other forms (``auto``,
    ``ray://``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or "/" in address or not port.isdigit():
        return
    result: list[OSError | None] = []
    finished = threading.Event()

    def connect() -> None:
        try:
            timeout = max(0.1, min(CONNECT_S, deadline.left()))
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
            result.append(None)
        except OSError as exc:
            result.append(exc)
        finally:
            finished.set()

    threading.Thread(target=connect, name="personframes-ray-connect", daemon=True).start()
    deadline.wait(finished.wait, lambda: _silent(address, deadline))
    error = result[0]
    if error is not None:
        raise ConfigError(
            f"--ray-address {address}: cannot join the Ray cluster there: nothing answers "
            f"({error.strerror or error}); start it with ray start --head"
        ) from None


def _silent(address: str, deadline: _Deadline) -> ConfigError:
    return ConfigError(
        f"--ray-address {address}: cannot join the Ray cluster there: no Ray answered "
        f"within {deadline.seconds:g} s (is a Ray cluster's head listening at that port?); "
        f"{TIMEOUT_FLAG} sets how long to wait"
    )


def _probe(
    address: str,
    deadline: _Deadline,
    late: Callable[[], Exception],
    failed: Callable[[str], Exception],
) -> None:
    """Ray connects to ``address`` from a child process within the deadline, or the
    join fails with one line (the child ended, its output kept from the user)."""
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE, address],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # ended with its group, and no Ctrl-C of its own
        preexec_fn=_dies_with_parent(),
    )
    said: list[str] = []

    def ended(seconds: float) -> bool:
        try:
            said.append(child.communicate(timeout=seconds)[0])
        except subprocess.TimeoutExpired:
            return False
        return True

    try:
        deadline.wait(ended, late)
    finally:
        if child.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    if child.returncode != 0:
        reason = one_line(said[0] if said else "") if child.returncode == 3 else ""
        raise failed(reason or f"Ray's connection ended with exit code {child.returncode}")


class _Quiet(logging.Filter):
    """Ray's note that it set no SIGTERM handler (ray.init on a thread of its own): the
    driver's own handlers stay, which is what is wanted."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


def _session(leader: int) -> list[int]:
    """The live processes of the session ``leader`` leads (Linux; none elsewhere)."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[3]) == leader and fields[0] != "Z":
                        found.append(int(entry.name))
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed when the thread that started it ends
    (Linux's ``PR_SET_PDEATHSIG``): a driver killed outright takes its cluster along."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    except (OSError, AttributeError):
        return None

    def tie() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG

    return tie


class _Head:
    """A local cluster: ``ray start --head --block`` in a session of its own, with its
    output in ``folder``'s start.log."""

    def __init__(self, folder: str, cores: int) -> None:
        self.address = f"127.0.0.1:{_free_port()}"
        self.answered = False  # this process joined it
        self.log = Path(folder) / "start.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ray.scripts.scripts",
                    "start",
                    "--head",
                    "--block",
                    f"--port={self.address.rpartition(':')[2]}",
                    "--node-ip-address=127.0.0.1",
                    f"--num-cpus={cores}",
                    "--include-dashboard=false",
                    "--disable-usage-stats",
                    f"--temp-dir={Path(folder) / 'ray'}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_dies_with_parent(),
            )

    def failure(self) -> str | None:
        """Why the cluster stopped, once it has (None while it runs)."""
        if self.process.poll() is None:
            return None
        with contextlib.suppress(OSError):
            said = [line for line in self.log.read_text("utf-8", "replace").splitlines() if line]
            if said:
                return one_line(said[-1])
        return f"ray start ended with exit code {self.process.returncode}"

    def end(self) -> None:
        """Stop the cluster: one that answered by SIGTERM (Ray stops its processes), and
        what is left of its session after a while, or one still starting at once, by
        SIGKILL to every process of its session."""
        leader = self.process.pid
        if self.answered:
            with contextlib.suppress(OSError):
                os.kill(leader, signal.SIGTERM)
            waited = time.monotonic() + END_S
            while _session(leader) and time.monotonic() < waited:
                time.sleep(0.1)
        for _ in range(100):  # a process started meanwhile is in the session too
            left = _session(leader)
            if not left:
                break
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=END_S)


@contextlib.contextmanager
def _local_head(cores: int) -> Iterator[_Head]:
    """A local cluster of ``cores`` CPUs, in its own temporary folder, until the block
    ends."""
    with _local_cluster_env() as folder:
        head = _Head(folder, cores)
        try:
            yield head
        finally:
            head.end()


def _listening(head: _Head, deadline: _Deadline, late: Callable[[], Exception]) -> None:
    """Wait for the local cluster's head to take connections."""
    host, _, port = head.address.rpartition(":")
    while True:
        reason = head.failure()
        if reason is not None:
            raise ProcessingError(f"cannot start a local Ray cluster: {reason}")
        with contextlib.suppress(OSError):
            socket.create_connection((host, int(port)), timeout=SLICE_S).close()
            return
        deadline.check(late)
        time.sleep(0.1)


@contextlib.contextmanager
def _init(
    ray: Any, address: str, deadline: _Deadline, late: Callable[[], Exception]
) -> Iterator[None]:
    """``ray.init(address)`` on a thread of its own, within the deadline. Given up on,
    Ray's own shutdown at exit (which would wait for a cluster that did not answer) is
    not run."""
    finished = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except BaseException as exc:  # handed to the driver's thread
            failure.append(exc)
        finally:
            finished.set()

    quiet = _Quiet()
    worker_log = logging.getLogger("ray._private.worker")
    worker_log.addFilter(quiet)
    try:
        threading.Thread(target=run, name="personframes-ray-init", daemon=True).start()
        deadline.wait(finished.wait, late)
    except BaseException:
        if finished.is_set():  # connected just now: disconnected as usual
            with contextlib.suppress(Exception):
                ray.shutdown()
        else:
            atexit.unregister(ray.shutdown)
        raise
    finally:
        worker_log.removeFilter(quiet)
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def connected(config: Config, cores: int, stop: StopFlag) -> Iterator[Any]:
    """The ray module, connected until the block ends: to a local cluster started here
    (``cores`` CPUs; ended then), or to the one at ``--ray-address``. Raises
    ConfigError past ``pipeline.ray_timeout`` (or when the address is wrong),
    ProcessingError when a local cluster cannot start, Interrupted once ``stop`` is set."""
    address = config.pipeline.ray_address
    seconds = config.pipeline.ray_timeout
    head: _Head | None = None
    with contextlib.ExitStack() as stack:
        if address is None:
            deadline = _Deadline(seconds, stop, "starting a local Ray cluster")

            def late() -> Exception:
                return ConfigError(
                    f"cannot start a local Ray cluster within {seconds:g} s; "
                    f"{TIMEOUT_FLAG} sets how long to wait"
                )

            def failed(reason: str) -> Exception:
                return ProcessingError(f"cannot start a local Ray cluster: {reason}")

            _check_loopback()
            head = stack.enter_context(_local_head(cores))
            _listening(head, deadline, late)
            where = head.address
        else:
            deadline = _Deadline(seconds, stop, f"joining the Ray cluster at {address}")

            def late() -> Exception:
                return _silent(address, deadline)

            def failed(reason: str) -> Exception:
                return ConfigError(
                    f"--ray-address {address}: cannot join the Ray cluster there: {reason}"
                )

            host = address.rpartition(":")[0] if ":" in address else address
            if _is_loopback(host):  # used as given, not as the machine's outside address
                stack.enter_context(_environment({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}))
            _answers(address, deadline)
            where = address
        _probe(where, deadline, late, failed)
        deadline.check(late)
        import ray

        try:
            # The cluster answered the probe: this process's join takes a second or two,
            # and is not given up on half done (a signal aside) for want of them.
            stack.enter_context(_init(ray, where, deadline.at_least(JOIN_S), late))
        except (ConfigError, Interrupted):
            raise
        except Exception as exc:
            raise failed(one_line(exc)) from None
        if head is not None:
            head.answered = True
        yield ray
