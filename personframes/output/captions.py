"""Caption text: the first words (a trigger or a person's token), then the analysis's
tags, as the write step's ``--caption`` files and the kohya export write them."""

from __future__ import annotations

from .naming import NO_FACE

NOT_TAGS = ("", "unknown", NO_FACE)  # what the analysis could not tell says nothing


def caption_text(first: list[str], pose: str, head: str, shot: str) -> str:
    """``first, pose, head, shot`` (underscores as spaces), one line."""
    tags = [tag.replace("_", " ") for tag in (pose, head, shot) if tag not in NOT_TAGS]
    return ", ".join([*first, *tags]) + "\n"
