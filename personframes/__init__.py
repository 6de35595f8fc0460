"""personframes: curated, face-restored image datasets from videos of people."""

from __future__ import annotations

__version__ = "0.1.0"
