"""``--executor ray``: the batch's videos processed by a pool of Ray actors; the driver's
side.

The driver (this process) has listed the videos and chosen each one's output name in
input order; here it starts a local Ray cluster or joins ``--ray-address`` (within
``--ray-timeout``: ``ray_cluster.py``), then a pool (``ray_pool.py``) of ``VideoWorker``
actors (``ray_actor.py``): ``--workers`` of them, else one per node. Each actor keeps
one ``ModelSession`` for every video it is given and runs ``process_video`` as a local
worker does, writing into the output folder, which must be on a file system every node
sees. The driver gives each free actor the next video; that is all the scheduling done
here (placement, resources, processes and failure detection are Ray's).

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

import importlib.util
import logging
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..cores import available_cores
from ..errors import ConfigError, Interrupted, debug_enabled
from ..models.session import ModelSession
from ..restore.engine_choice import measured_choices
from .context import StopFlag
from .outcome import BatchResult, Display, record
from .ray_actor import CONTROL, Outcome, VideoWorker
from .ray_cluster import connected
from .ray_pool import Actor, Pool, died, placements, started

log = logging.getLogger(__name__)

INSTALL = 'pip install "personframes[ray]"'
WAIT_S = 0.5  # how often the driver looks at its stop flag while it waits
GATHER_S = 60.0  # how long the first videos wait for the whole pool to start


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
            nodes = placements(ray, workers, pipeline.gpus_per_worker, len(videos))
            pool = Pool(
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
                _Dispatch(ray, pool, stems, config, stop, result, outcomes, display).run()
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


@dataclass
class _Dispatch:
    """Gives each free actor the next video until every video has an outcome, or, once
    ``stop`` is set, until the running ones have stopped (``run``)."""

    ray: Any
    pool: Pool
    stems: dict[Path, str]
    config: Config
    stop: StopFlag
    result: BatchResult
    outcomes: dict[Path, Outcome]
    display: Display | None
    queue: deque[Path] = field(init=False)
    deaths: dict[Path, int] = field(default_factory=dict)  # per video, its actors' deaths
    running: dict[Any, Actor] = field(default_factory=dict)  # each actor's run() generator
    interrupted: Interrupted | None = None
    start_deaths: int = 0  # actors that died as they started
    stopping: bool = False
    # The first videos go out once every actor of the pool has started (or a while has
    # passed), so that each knows how many share its node from its first video on.
    gathering: bool = True
    gathered: float = field(default_factory=lambda: time.monotonic() + GATHER_S)

    def __post_init__(self) -> None:
        self.queue = deque(self.stems)

    def run(self) -> None:
        """Raises Interrupted once stopped (by ``stop``, or an actor's Interrupted)."""
        while self.running or (self.queue and not self.stopping):
            self._stop_if_asked()
            if self.gathering and (not self.pool.starting() or time.monotonic() > self.gathered):
                self.gathering = False
            self._hand_out()
            self._progress()
            starting = {} if self.stopping else self.pool.starting()
            waiting = [*self.running, *starting]
            if not waiting:
                break
            for ready in self.ray.wait(waiting, num_returns=1, timeout=WAIT_S)[0]:
                if ready in starting:
                    actor = starting[ready]
                    deaths = self.start_deaths
                    self.start_deaths += started(
                        self.ray, self.pool, actor, ready, self.config, deaths
                    )
                else:
                    self._take(ready)
        self._progress()
        if self.stopping:
            raise self._interruption()

    def _stop_if_asked(self) -> None:
        """Once ``stop`` is set or an actor was interrupted: ask every busy actor to stop."""
        if self.stopping or not (self.stop.is_set() or self.interrupted is not None):
            return
        self.stopping = True
        interrupted = self.interrupted
        signum = self.stop.signum or (interrupted.exit_code - 128 if interrupted else 2)
        for actor in self.pool.busy():
            actor.handle.stop.options(concurrency_group=CONTROL).remote(signum)

    def _hand_out(self) -> None:
        """The next videos to the free actors (none while stopping or gathering)."""
        if self.stopping or self.gathering:
            return
        for actor in self.pool.free():
            if not self.queue:
                break
            actor.video = self.queue.popleft()
            work = actor.handle.run.remote(
                str(actor.video), self.stems[actor.video], self.pool.sharing(actor)
            )
            self.running[work] = actor

    def _progress(self) -> None:
        step = "starting workers" if self.gathering else f"{len(self.running)} running"
        _show(self.display, step, len(self.outcomes), len(self.stems))

    def _take(self, ready: Any) -> None:
        """The next thing a running actor yielded: a log record (logged here as the
        driver's own), its video's outcome or Interrupted; or the actor died."""
        ray = self.ray
        actor = self.running[ready]
        video = actor.video
        assert video is not None
        try:
            item = ray.get(next(ready))
        except StopIteration:  # pragma: no cover - run() always yields an outcome
            item = (video, f"{video}: its Ray worker gave no outcome", 1)
        except ray.exceptions.RayActorError as exc:
            del self.running[ready]
            actor.video = None
            self.pool.replace(actor)
            if self._actor_died(video, exc):
                self.queue.appendleft(video)
            return
        except ray.exceptions.RayTaskError as exc:
            # Not a PersonframesError (those come back as failures): a bug, raised as
            # a local run raises it.
            if debug_enabled() or not isinstance(exc.cause, Exception):
                raise
            raise exc.cause from None
        if isinstance(item, dict):  # a log record, logged here as the driver's own
            log_record = logging.makeLogRecord(item)
            logging.getLogger(log_record.name).handle(log_record)
            return
        del self.running[ready]
        actor.video = None
        if isinstance(item, Interrupted):
            self.interrupted = item
        else:
            self.outcomes[video] = item

    def _actor_died(self, video: Path, exc: BaseException) -> bool:
        """Say that ``video``'s actor died; True when the video is to run again."""
        reason = died(exc)
        self.deaths[video] = count = self.deaths.get(video, 0) + 1
        if self.stopping:
            log.warning("%s: its Ray worker died as it stopped (%s)", video, reason)
            return False
        retries = self.config.pipeline.retries
        if count > retries:
            log.warning("%s: its Ray worker died (%s); not run again", video, reason)
            times = "once" if count == 1 else f"{count} times"
            self.outcomes[video] = (
                video,
                f"{video}: its Ray worker died {times} (last: {reason})",
                1,
            )
            return False
        log.warning(
            "%s: its Ray worker died (%s); running it again on another, from its saved "
            "progress (retry %d of %d)",
            video,
            reason,
            count,
            retries,
        )
        self.result.retries += 1
        return True

    def _interruption(self) -> Interrupted:
        """What stopped the batch: an actor's Interrupted, else the signal received."""
        if self.interrupted is not None:
            return self.interrupted
        signum = self.stop.signum or 2  # no video was running
        name = signal.Signals(signum).name
        return Interrupted(f"stopped by {name}; progress saved", signum)
