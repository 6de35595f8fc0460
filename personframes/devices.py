"""Choosing where a model runs: the one rule every model loader follows.

``cpu`` runs on the CPU; ``auto`` uses a GPU when the loader finds a usable one;
``gpu`` asks for one and, when there is none, runs on the CPU with one WARNING per
model and the reason, which the loader keeps (``DeviceChoice.fallback``) so that the
run summary counts it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "gpu"]
DEVICES: tuple[str, ...] = get_args(Device)

_warned: set[str] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class DeviceChoice:
    gpu: bool
    fallback: str | None = None  # why the CPU runs what a GPU was asked for


def choose_device(requested: str, who: str, gpu_missing: Callable[[], str | None]) -> DeviceChoice:
    """Where ``who`` runs. ``gpu_missing()`` says why no GPU can be used (None: one can);
    it is only called when a GPU is wanted."""
    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}: expected {', '.join(DEVICES)}")
    if requested == "cpu":
        return DeviceChoice(gpu=False)
    why_not = gpu_missing()
    if why_not is None:
        return DeviceChoice(gpu=True)
    if requested == "auto":
        log.debug("%s: no GPU (%s); running on the CPU", who, why_not)
        return DeviceChoice(gpu=False)
    reason = f"GPU requested but {why_not}; running on the CPU"
    warn_once(who, reason)
    return DeviceChoice(gpu=False, fallback=reason)


def warn_once(who: str, reason: str) -> None:
    """One WARNING per model and reason in a process."""
    key = f"{who}: {reason}"
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("%s", key)
