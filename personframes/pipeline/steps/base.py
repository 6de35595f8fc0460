"""The contract every pipeline step fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from ..context import RunContext


class Step(ABC):
    """One stage of the per-video pipeline.

    ``SECTIONS`` names the config sections whose values change the step's
    result; with the upstream steps' hashes they form the step's config hash.
    Bump ``VERSION`` when the step's own logic changes its output. ``TEMP`` names
    the folder (under the video's temp dir) of the intermediate files it keeps
    with ``--keep-temp``; it is emptied whenever the step starts afresh.
    """

    NAME: ClassVar[str]
    SECTIONS: ClassVar[tuple[str, ...]] = ()
    VERSION: ClassVar[int] = 1
    TEMP: ClassVar[str | None] = None

    @abstractmethod
    def run(self, ctx: RunContext) -> None:
        """Do (or resume) the work, committing progress to ``ctx.store``."""

    def still_valid(self, ctx: RunContext) -> bool:
        """For a step recorded as done: are its results still in place?"""
        return True

    def discard(self, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        """Remove what an earlier run of this step produced (before a re-run)."""

    def forget(self, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        """Remove what the step keeps across its own reruns (``--force`` starts over)."""
