"""An explicit registry of face detectors: id -> factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import UnknownIdError
from .base import FaceDetector

# Called as factory(confidence=..., max_side=..., device=...).
FaceDetectorFactory = Callable[..., FaceDetector]


@dataclass(frozen=True)
class DetectorEntry:
    """One registered detector: its id, how to build it, and a one-line description."""

    id: str
    factory: FaceDetectorFactory
    description: str = ""


class FaceDetectorRegistry:
    """Known face detectors. Ids are unique; registration order is kept."""

    def __init__(self) -> None:
        self._entries: dict[str, DetectorEntry] = {}

    def register(self, id: str, factory: FaceDetectorFactory, description: str = "") -> None:
        """Add a detector; raises ``ValueError`` if ``id`` is already registered."""
        if id in self._entries:
            raise ValueError(f"face detector id {id!r} is already registered")
        self._entries[id] = DetectorEntry(id, factory, description)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, id: object) -> bool:
        return id in self._entries

    def __iter__(self) -> Iterator[DetectorEntry]:
        return iter(self._entries.values())

    def get(self, id: str) -> DetectorEntry:
        """The entry for ``id``; ``UnknownIdError`` listing the known ids if there is none."""
        try:
            return self._entries[id]
        except KeyError:
            known = ", ".join(self._entries) or "(none)"
            raise UnknownIdError(f"unknown face detector {id!r}; known: {known}") from None

    def create(self, id: str, *, confidence: float, max_side: int, device: str) -> FaceDetector:
        """Build the detector registered as ``id``."""
        return self.get(id).factory(confidence=confidence, max_side=max_side, device=device)
