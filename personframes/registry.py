"""The one registry shape: ids to entries, in registration order.

Every table of pluggable things (face detectors, inference engines, network
architectures, restoration kinds) is a ``Registry``; the model catalogue is one too.
An id is registered once; looking up an unknown id raises ``UnknownIdError`` listing
the known ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from .errors import UnknownIdError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """``what``: the noun used in errors ("face detector", "engine", ...)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, id: str, entry: T) -> T:
        """Add ``entry`` under ``id``; ``ValueError`` when ``id`` is taken."""
        if id in self._entries:
            raise ValueError(f"{self.what} {id!r} is already registered")
        self._entries[id] = entry
        return entry

    def lookup(self, id: str) -> T:
        """The entry for ``id``; ``UnknownIdError`` naming the known ids."""
        try:
            return self._entries[id]
        except KeyError:
            known = ", ".join(self._entries) or "(none)"
            raise UnknownIdError(f"unknown {self.what} {id!r} (known: {known})") from None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __getitem__(self, id: str) -> T:
        return self._entries[id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
