"""The per-video steps, defined once, in the order they run."""

from __future__ import annotations

from .base import Step
from .clips import ClipStep
from .manifest import ManifestStep, manifest_name
from .scan import ScanStep
from .select import SelectStep
from .write import WriteStep

STEPS: tuple[Step, ...] = (ScanStep(), SelectStep(), WriteStep(), ClipStep(), ManifestStep())

__all__ = ["STEPS", "Step", "manifest_name"]
