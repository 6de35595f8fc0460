"""``--executor ray``: the batch's videos processed by a pool of Ray actors.

The driver (this process) has listed the videos and chosen each one's output name in
input order; here it starts a local Ray cluster or joins ``--ray-address`` (within
``--ray-timeout``: ``ray_cluster.py``), then a pool of ``VideoWorker`` actors:
``--workers`` of them, else one per node. Each actor keeps one ``ModelSession`` for every
video it is given and runs ``process_video`` as a local worker does, writing into the
output folder, which must be on a file system every node sees. The driver gives each
free actor the next video; that is all the scheduling done here (placement, resources,
processes and failure detection are Ray's).

An actor streams its log records to the driver while it works (a Ray generator), and
the driver logs them as its own, so the console and ``--log-file`` read as a local run.
A video whose actor dies (its process killed, its node lost) is run again on another
actor, up to ``--retries`` times; its saved state makes that run resume where the dead
one last committed. SIGINT/SIGTERM (the driver's ``StopFlag``) asks the running actors
to stop, through a concurrency group of their own, so that each stops at its next frame
and saves as a local run does; no other video is started. A local cluster is shut down
at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import queue
import signal
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Config
from ..cores import available_cores, set_workers
from ..errors import ConfigError, Interrupted, ProcessingError, debug_enabled, printable
from ..logs import logger_level
from ..models.session import ModelSession
from ..restore.engine_choice import adopt_measured, measured_choices
from .context import StopFlag
from .outcome import BatchResult, Display, process_or_fail, record
from .ray_cluster import connected, one_line
from .runner import VideoResult

log = logging.getLogger(__name__)

INSTALL = 'pip install "personframes[ray]"'
CONTROL = "control"  # the actors' concurrency group for stop requests
WAIT_S = 0.5  # how often the driver looks at its stop flag while it waits
GATHER_S = 60.0  # how long the first videos wait for the whole pool to start

Outcome = VideoResult | tuple[Path, str, int]


class _Forward(logging.Handler):
    """Puts each log record, made plain (message formatted, traceback as text), on a
    queue for the driver."""

    def __init__(self, sink: queue.Queue[dict[str, Any] | None]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            plain = dict(record.__dict__)
            plain["msg"], plain["args"] = record.getMessage(), None
            if record.exc_info:
                plain["exc_text"] = logging.Formatter().formatException(record.exc_info)
            plain["exc_info"] = None
            self.sink.put(plain)
        except Exception:  # pragma: no cover - logging must not fail the work
            self.handleError(record)


class VideoWorker:
    """One Ray actor: processes the videos it is given, one at a time, on one thread of
    its own, so the models it loaded for the first serve the rest. Made a Ray actor class
    by ``run_on_ray`` (``ray.remote``): this module imports without Ray."""

    def __init__(self, config_json: str, driver_cwd: str) -> None:
        self.cwd_ok = os.path.isdir(driver_cwd)
        if self.cwd_ok:  # a relative path in the config means what it means to the driver
            os.chdir(driver_cwd)
        self.config = Config.model_validate_json(config_json)
        self.records: queue.Queue[dict[str, Any] | None] = queue.Queue()
        logger = logging.getLogger("personframes")
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.addHandler(_Forward(self.records))
        logger.setLevel(logger_level(self.config.logging))
        logger.propagate = False
        self.sessions = ModelSession(self.config.models.cache_dir)
        self.stop_flag = StopFlag()
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="personframes-video")

    def hello(self, measured: dict[str, Any]) -> dict[str, Any]:
        """Where this actor runs and which personframes; it takes the engine choices the
        driver measured (each keyed by CPU, thread share and engine versions, so one
        measured for other cores is not used)."""
        import ray

        adopt_measured(measured)
        return {
            "version": __version__,
            "node": ray.get_runtime_context().get_node_id(),
            "ip": ray.util.get_node_ip_address(),
            "pid": os.getpid(),
            "cwd_ok": self.cwd_ok,
        }

    def run(self, video: str, stem: str, processes: int) -> Iterator[Any]:
        """Process one video under the output stem the batch chose for it (``processes``
        actors share this node's cores): yields its log records as they come, then its
        VideoResult, failure tuple, or the Interrupted that stopped it."""
        set_workers(processes)
        work = self.thread.submit(self._process, Path(video), stem)
        work.add_done_callback(lambda _: self.records.put(None))
        while (record := self.records.get()) is not None:
            yield record
        yield work.result()  # an error that is no PersonframesError: raised, as locally

    def _process(self, video: Path, stem: str) -> Outcome | Interrupted:
        try:
            return process_or_fail(video, self.config, self.sessions, self.stop_flag, None, stem)
        except Interrupted as exc:
            return exc

    def stop(self, signum: int) -> None:
        """Stop the video being processed at its next frame (runs in the control
        concurrency group, beside ``run``)."""
        self.stop_flag.set(signum)


def _died(exc: BaseException) -> str:
    """Why an actor died, in a few words (Ray's message also names its pid and node)."""
    fields: dict[str, str] = {}
    detail = ""
    for line in str(exc).splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep and key in ("pid", "ip"):
            fields[key] = value
        elif not line.startswith("\t") and "died unexpectedly" not in line and not detail:
            detail = line.strip()
    # "The actor is dead because its worker process has died. Worker exit type: ...":
    # the first sentence and the exit type.
    head, _, rest = detail.partition(". ")
    exit_type = rest.split(" Worker exit detail")[0] if rest.startswith("Worker exit") else ""
    text = "; ".join(part for part in (head.rstrip("."), exit_type) if part)
    where = " ".join(f"{key} {value}" for key, value in fields.items())
    return printable(f"{text} ({where})" if where else text or type(exc).__name__)[:300]


@dataclass
class _Actor:
    handle: Any
    starting: Any  # the ObjectRef of its hello() until it has answered, then None
    node: str = ""  # the node it runs on (one per node: the node asked for)
    video: Path | None = None


@dataclass
class _Pool:
    """The actors, and what each is doing."""

    ray: Any
    actor_class: Any
    config_json: str
    measured: dict[str, Any]
    gpus: float
    per_node: bool  # one actor per node (no --workers), else spread over the nodes
    share: int | None  # actors per node when known beforehand (a local cluster: all)
    actors: list[_Actor] = field(default_factory=list)
    on_node: dict[str, int] = field(default_factory=dict)  # most actors seen on each

    def start(self, node: str | None = None, soft: bool = False) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy: Any = (
            NodeAffinitySchedulingStrategy(node_id=node, soft=soft) if node else "SPREAD"
        )
        handle = self.actor_class.options(
            num_cpus=1,
            num_gpus=self.gpus,
            scheduling_strategy=strategy,
            max_restarts=0,  # a dead actor is replaced here, and its video said
            max_task_retries=0,
        ).remote(self.config_json, os.getcwd())
        self.actors.append(_Actor(handle, handle.hello.remote(self.measured), node or ""))

    def replace(self, dead: _Actor) -> None:
        self.actors.remove(dead)
        with contextlib.suppress(Exception):
            self.ray.kill(dead.handle, no_restart=True)
        # One per node: on the same node while it is there, else wherever Ray can.
        self.start(dead.node if self.per_node and dead.node else None, soft=True)

    def ready(self, actor: _Actor, node: str) -> None:
        """``actor`` answered from ``node``."""
        actor.starting, actor.node = None, node
        here = sum(1 for a in self.actors if a.starting is None and a.node == node)
        self.on_node[node] = max(self.on_node.get(node, 0), here)

    def sharing(self, actor: _Actor) -> int:
        """How many of the pool's actors share ``actor``'s node and its cores: never
        fewer than were seen there, so that an actor being replaced does not change
        the engines' thread count (a restoration engine's choice depends on it)."""
        return self.share or max(1, self.on_node.get(actor.node, 1))

    def busy(self) -> list[_Actor]:
        return [a for a in self.actors if a.video is not None]

    def free(self) -> list[_Actor]:
        return [a for a in self.actors if a.starting is None and a.video is None]

    def starting(self) -> dict[Any, _Actor]:
        return {a.starting: a for a in self.actors if a.starting is not None}

    def kill_all(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor.handle, no_restart=True)


def _alive(ray: Any) -> list[dict[str, Any]]:
    return [node for node in ray.nodes() if node.get("Alive")]


def _holds(node: dict[str, Any], gpus: float) -> int:
    """How many workers (a CPU and ``gpus`` GPUs each) a node can hold."""
    resources = node.get("Resources", {})
    cpus = int(resources.get("CPU", 0))
    return cpus if gpus == 0 else min(cpus, int(resources.get("GPU", 0) / gpus))


def _describe_nodes(ray: Any) -> str:
    parts = []
    for node in _alive(ray):
        resources = node.get("Resources", {})
        parts.append(
            f"{node.get('NodeManagerAddress', '?')} with {resources.get('CPU', 0):g} CPUs "
            f"and {resources.get('GPU', 0):g} GPUs"
        )
    return "; ".join(parts) or "none alive"


def _placements(ray: Any, workers: int, gpus: float, videos: int) -> list[str | None]:
    """Where to start the pool's actors: ``workers`` anywhere (spread by Ray), or with
    no ``--workers``, one on each node that can hold one (as many as there are videos)."""
    if workers:
        if sum(_holds(node, gpus) for node in _alive(ray)) < workers:
            raise ConfigError(
                f"the Ray cluster cannot hold --workers {workers} with a CPU and {gpus:g} "
                f"GPUs each (its nodes: {_describe_nodes(ray)})"
            )
        return [None] * workers
    nodes = [str(node["NodeID"]) for node in _alive(ray) if _holds(node, gpus) >= 1]
    if not nodes:
        raise ConfigError(
            f"no node of the Ray cluster has a CPU and {gpus:g} GPUs for a worker "
            f"(its nodes: {_describe_nodes(ray)})"
        )
    return list(nodes[:videos])


def _relative_paths(config: Config) -> bool:
    paths = [
        config.output.output_dir,
        config.models.cache_dir,
        config.logging.log_file,
        *config.selection.reference_faces,
        *config.selection.exclude_faces,
    ]
    return any(path is not None and not Path(path).is_absolute() for path in paths)


def run_on_ray(
    stems: dict[Path, str],
    config: Config,
    sessions: ModelSession,
    stop: StopFlag,
    result: BatchResult,
    display: Display | None,
) -> None:
    """Process the videos of ``stems`` (each with the output stem the batch chose) on a
    Ray cluster; their outcomes go into ``result`` in input order. Raises Interrupted
    when stopped by a signal (progress saved)."""
    if not stems:
        return
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: {INSTALL}")
    pipeline = config.pipeline
    videos = list(stems)
    workers = min(pipeline.workers, len(videos)) if pipeline.workers > 1 else 0
    outcomes: dict[Path, Outcome] = {}
    address = pipeline.ray_address
    _show(display, f"joining {address}" if address else "starting a cluster", 0, len(videos))
    try:
        with connected(config, max(available_cores(), workers), stop) as ray:
            nodes = _placements(ray, workers, pipeline.gpus_per_worker, len(videos))
            pool = _Pool(
                ray,
                ray.remote(concurrency_groups={CONTROL: 1})(VideoWorker),
                config.model_dump_json(),
                measured_choices(),
                pipeline.gpus_per_worker,
                per_node=not workers,
                share=max(1, workers) if pipeline.ray_address is None else None,
            )
            try:
                for node in nodes:
                    pool.start(node)
                log.info(
                    "Ray (%s): %d workers for %d videos",
                    pipeline.ray_address or "a local cluster",
                    len(nodes),
                    len(videos),
                )
                _dispatch(ray, pool, stems, config, stop, result, outcomes, display)
            finally:
                pool.kill_all()
    finally:
        for video in videos:  # in input order, whatever the order they finished in
            if video in outcomes:
                record(result, outcomes[video])


def _show(display: Display | None, step: str, finished: int, count: int) -> None:
    """One progress bar over all videos: how many have finished."""
    if display is not None:
        display.start_video("Ray", 1, 1)
        display.update(step, finished, count)


def _dispatch(
    ray: Any,
    pool: _Pool,
    stems: dict[Path, str],
    config: Config,
    stop: StopFlag,
    result: BatchResult,
    outcomes: dict[Path, Outcome],
    display: Display | None,
) -> None:
    """Give each free actor the next video until every video has an outcome, or, once
    ``stop`` is set, until the running ones have stopped."""
    videos = list(stems)
    queue_ = deque(videos)
    deaths: dict[Path, int] = {}
    running: dict[Any, _Actor] = {}  # the generator of each actor's run()
    interrupted: Interrupted | None = None
    start_deaths = 0
    stopping = False
    # The first videos go out once every actor of the pool has started (or a while has
    # passed), so that each knows how many share its node from its first video on.
    gathering, gathered = True, time.monotonic() + GATHER_S

    def show() -> None:
        step = "starting workers" if gathering else f"{len(running)} running"
        _show(display, step, len(outcomes), len(videos))

    while running or (queue_ and not stopping):
        if not stopping and (stop.is_set() or interrupted is not None):
            stopping = True
            signum = stop.signum or (interrupted.exit_code - 128 if interrupted else 2)
            for actor in pool.busy():
                actor.handle.stop.options(concurrency_group=CONTROL).remote(signum)
        if gathering and (not pool.starting() or time.monotonic() > gathered):
            gathering = False
        if not stopping and not gathering:
            for actor in pool.free():
                if not queue_:
                    break
                actor.video = queue_.popleft()
                work = actor.handle.run.remote(
                    str(actor.video), stems[actor.video], pool.sharing(actor)
                )
                running[work] = actor
        show()
        starting = {} if stopping else pool.starting()
        waiting = [*running, *starting]
        if not waiting:
            break
        for ready in ray.wait(waiting, num_returns=1, timeout=WAIT_S)[0]:
            if ready in starting:
                start_deaths += _started(ray, pool, starting[ready], ready, config, start_deaths)
                continue
            actor = running[ready]
            video = actor.video
            assert video is not None
            try:
                item = ray.get(next(ready))
            except StopIteration:  # pragma: no cover - run() always yields an outcome
                item = (video, f"{video}: its Ray worker gave no outcome", 1)
            except ray.exceptions.RayActorError as exc:
                del running[ready]
                actor.video = None
                pool.replace(actor)
                if _died_with(video, exc, deaths, config, result, outcomes, stopping):
                    queue_.appendleft(video)
                continue
            except ray.exceptions.RayTaskError as exc:
                # Not a PersonframesError (those come back as failures): a bug, raised as
                # a local run raises it.
                if debug_enabled() or not isinstance(exc.cause, Exception):
                    raise
                raise exc.cause from None
            if isinstance(item, dict):  # a log record, logged here as the driver's own
                record = logging.makeLogRecord(item)
                logging.getLogger(record.name).handle(record)
                continue
            del running[ready]
            actor.video = None
            if isinstance(item, Interrupted):
                interrupted = item
            else:
                outcomes[video] = item
    show()
    if stopping:
        if interrupted is None:  # no video was running
            signum = stop.signum or 2
            name = signal.Signals(signum).name
            interrupted = Interrupted(f"stopped by {name}; progress saved", signum)
        raise interrupted


def _died_with(
    video: Path,
    exc: BaseException,
    deaths: dict[Path, int],
    config: Config,
    result: BatchResult,
    outcomes: dict[Path, Outcome],
    stopping: bool,
) -> bool:
    """Say that ``video``'s actor died; True when the video is to run again."""
    reason = _died(exc)
    deaths[video] = count = deaths.get(video, 0) + 1
    if stopping:
        log.warning("%s: its Ray worker died as it stopped (%s)", video, reason)
        return False
    if count > config.pipeline.retries:
        log.warning("%s: its Ray worker died (%s); not run again", video, reason)
        times = "once" if count == 1 else f"{count} times"
        outcomes[video] = (video, f"{video}: its Ray worker died {times} (last: {reason})", 1)
        return False
    log.warning(
        "%s: its Ray worker died (%s); running it again on another, from its saved "
        "progress (retry %d of %d)",
        video,
        reason,
        count,
        config.pipeline.retries,
    )
    result.retries += 1
    return True


def _started(ray: Any, pool: _Pool, actor: _Actor, ref: Any, config: Config, deaths: int) -> int:
    """An actor answered its hello, or died starting: check it. 1 if it died."""
    try:
        hello = ray.get(ref)
    except ray.exceptions.RayActorError as exc:
        if exc.actor_init_failed:  # its __init__ failed: so would every other's
            raise ProcessingError(f"a Ray worker could not start: {one_line(exc)}") from None
        if deaths >= config.pipeline.retries + len(pool.actors):
            raise ProcessingError(f"Ray workers keep dying as they start ({_died(exc)})") from None
        log.warning("a Ray worker died as it started (%s); starting another", _died(exc))
        pool.replace(actor)
        return 1
    _check(hello, config)
    pool.ready(actor, hello["node"])
    log.debug("Ray worker ready on %s (pid %d)", hello["ip"], hello["pid"])
    return 0


def _check(hello: dict[str, Any], config: Config) -> None:
    """Refuse a worker that runs another personframes, or that cannot see the driver's
    folder when the config has relative paths."""
    where = f"the Ray worker on {hello['ip']}"
    if hello["version"] != __version__:
        raise ConfigError(
            f"personframes {__version__} runs here but {hello['version']} on {where}: "
            "install the same version on every node"
        )
    if not hello["cwd_ok"] and _relative_paths(config):
        raise ConfigError(
            f"{Path.cwd()} does not exist on {where}, and the output folder, model cache, "
            "log file or a reference photo is given by a relative path: give absolute "
            "paths on a file system every node sees"
        )
