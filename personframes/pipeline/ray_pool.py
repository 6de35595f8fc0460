"""``--executor ray``'s pool of actors (:mod:`.ray_actor`): where they start (one per node,
or ``--workers`` spread by Ray), which answered and from which node, how many share a
node's cores, a dead one replaced; each actor's hello checked (the same personframes,
the driver's folder seen where the config has relative paths); why an actor died, in
a few words.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Config
from ..errors import ConfigError, ProcessingError, printable
from .ray_cluster import one_line

log = logging.getLogger(__name__)


def died(exc: BaseException) -> str:
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
class Actor:
    """One actor of the pool (a ``VideoWorker``'s handle), and the video it runs."""

    handle: Any
    starting: Any  # the ObjectRef of its hello() until it has answered, then None
    node: str = ""  # the node it runs on (one per node: the node asked for)
    video: Path | None = None


@dataclass
class Pool:
    """The actors, and what each is doing."""

    ray: Any
    actor_class: Any
    config_json: str
    measured: dict[str, Any]
    gpus: float
    per_node: bool  # one actor per node (no --workers), else spread over the nodes
    share: int | None  # actors per node when known beforehand (a local cluster: all)
    actors: list[Actor] = field(default_factory=list)
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
        self.actors.append(Actor(handle, handle.hello.remote(self.measured), node or ""))

    def replace(self, dead: Actor) -> None:
        self.actors.remove(dead)
        with contextlib.suppress(Exception):
            self.ray.kill(dead.handle, no_restart=True)
        # One per node: on the same node while it is there, else wherever Ray can.
        self.start(dead.node if self.per_node and dead.node else None, soft=True)

    def ready(self, actor: Actor, node: str) -> None:
        """``actor`` answered from ``node``."""
        actor.starting, actor.node = None, node
        here = sum(1 for a in self.actors if a.starting is None and a.node == node)
        self.on_node[node] = max(self.on_node.get(node, 0), here)

    def sharing(self, actor: Actor) -> int:
        """How many of the pool's actors share ``actor``'s node and its cores: never
        fewer than were seen there, so that an actor being replaced does not change
        the engines' thread count (a restoration engine's choice depends on it)."""
        return self.share or max(1, self.on_node.get(actor.node, 1))

    def busy(self) -> list[Actor]:
        return [a for a in self.actors if a.video is not None]

    def free(self) -> list[Actor]:
        return [a for a in self.actors if a.starting is None and a.video is None]

    def starting(self) -> dict[Any, Actor]:
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


def placements(ray: Any, workers: int, gpus: float, videos: int) -> list[str | None]:
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


def started(ray: Any, pool: Pool, actor: Actor, ref: Any, config: Config, deaths: int) -> int:
    """An actor answered its hello, or died starting: check it. 1 if it died."""
    try:
        hello = ray.get(ref)
    except ray.exceptions.RayActorError as exc:
        if exc.actor_init_failed:  # its __init__ failed: so would every other's
            raise ProcessingError(f"a Ray worker could not start: {one_line(exc)}") from None
        if deaths >= config.pipeline.retries + len(pool.actors):
            raise ProcessingError(f"Ray workers keep dying as they start ({died(exc)})") from None
        log.warning("a Ray worker died as it started (%s); starting another", died(exc))
        pool.replace(actor)
        return 1
    check_hello(hello, config)
    pool.ready(actor, hello["node"])
    log.debug("Ray worker ready on %s (pid %d)", hello["ip"], hello["pid"])
    return 0


def check_hello(hello: dict[str, Any], config: Config) -> None:
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
