"""Output file names, as Person From Vid names them.

- full frames: ``{video}_{pose}_{head}_{shot}_{rank:03d}``
- face crops:  ``{video}_face_{head}_{rank:03d}``
- body crops:  ``{video}_crop_{pose}_{head}_{rank:03d}``

With several people in a video, ``_person{id}`` follows the video name. The
rank counts up per name pattern, in selection order, so names never collide.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

OutputKind = Literal["frame", "face", "body"]

# The head of a person whose face was not found (their body was): no face crop, ever.
NO_FACE = "unseen"  # no "face" in it: a glob for face crops (*_face_*) must not match

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
PERSON_FOLDER = re.compile(r"^person\d+$")  # --group-by-person: OUT/person{id}/


def person_folder(person_id: int) -> str:
    """The folder (in the output folder) of a person's files with ``--group-by-person``."""
    return f"person{person_id}"


def is_plain_file_name(name: object) -> bool:
    """A name that can only mean a file directly inside its folder: no separator,
    no ``.``/``..``, not absolute, no control character."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and _UNSAFE.search(name) is None
        and PurePosixPath(name).name == name
    )


def manifest_name(stem: str) -> str:
    """A video's manifest in the output folder."""
    return f"{stem}_info.json"


def safe_stem(stem: str) -> str:
    """A video's stem made safe to start output and folder names: control characters
    and separators become ``_``, and a stem of only dots (``...mp4``) is spelled out."""
    cleaned = _UNSAFE.sub("_", stem)
    if not cleaned.strip("."):
        cleaned = cleaned.replace(".", "_") or "video"
    return cleaned


@dataclass(frozen=True)
class NameParts:
    kind: str  # "frame", "face" or "body"
    person_id: int
    pose: str
    head: str
    shot: str


def _pattern(stem: str, parts: NameParts, with_person: bool) -> str:
    base = f"{stem}_person{parts.person_id}" if with_person else stem
    if parts.kind == "frame":
        return f"{base}_{parts.pose}_{parts.head}_{parts.shot}"
    if parts.kind == "face":
        return f"{base}_face_{parts.head}"
    return f"{base}_crop_{parts.pose}_{parts.head}"


class Namer:
    """Hands out unique names in order: the first of a pattern gets rank 001."""

    def __init__(self, stem: str, with_person: bool, ext: str) -> None:
        self.stem, self.with_person, self.ext = stem, with_person, ext
        self._counts: Counter[str] = Counter()

    def name(self, parts: NameParts) -> str:
        pattern = _pattern(self.stem, parts, self.with_person)
        self._counts[pattern] += 1
        return f"{pattern}_{self._counts[pattern]:03d}.{self.ext}"


def clip_name(stem: str, person_id: int, number: int) -> str:
    """A person's ``number``-th clip (from 1, in time order)."""
    return f"{stem}_person{person_id}_clip_{number:03d}.mp4"
