"""``--executor ray``'s actor: ``VideoWorker``, one per Ray worker process, processes the
videos the driver (:mod:`.ray_dispatch`) gives it, one at a time, with one ``ModelSession``
for all of them, and runs ``process_video`` as a local worker does.

It streams its log records to the driver while it works (a Ray generator), and the
driver logs them as its own. A stop request comes through a concurrency group of its
own (``CONTROL``), beside the running video, which stops at its next frame and saves.
This module imports without Ray.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Config
from ..cores import set_workers
from ..errors import Interrupted
from ..logs import logger_level
from ..models.session import ModelSession
from ..restore.engine_choice import adopt_measured
from .context import StopFlag
from .outcome import process_or_fail
from .runner import VideoResult

CONTROL = "control"  # the actors' concurrency group for stop requests

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
    by ``ray_dispatch.run_on_ray`` (``ray.remote``): this module imports without Ray."""

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
