"""The review in ``VIDEO_info.json``: each output's decision, and its person's group and
name when merged or named. The manifest step writes them with the rest; ``personframes
review OUT --write-manifest`` brings the files up to date after a review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import StateError
from ..output.naming import manifest_name
from ..output.writer import write_json
from .index import FolderIndex
from .review import UNREVIEWED, ReviewStore, person_key


def annotate(outputs: list[dict[str, Any]], stem: str, store: ReviewStore) -> None:
    """Add ``review`` (accepted, rejected or unreviewed) to each info.json output entry,
    and ``person_group`` / ``person_name`` where review merged or named its person."""
    decisions = store.decisions()
    names = store.names()
    for entry in outputs:
        entry["review"] = decisions.get(str(entry["file"]), UNREVIEWED)
        person = person_key(stem, int(entry["person_id"]))
        group = store.root(person)
        if group != person:
            entry["person_group"] = group
        else:
            entry.pop("person_group", None)
        if group in names:
            entry["person_name"] = names[group]
        else:
            entry.pop("person_name", None)


def video_stems(output_dir: Path) -> list[str]:
    """The output stems of every video with state in ``output_dir``."""
    index = FolderIndex(output_dir)
    return sorted(stem for key in index.videos() if (stem := index.stem_of(key)) is not None)


def read_manifest(path: Path) -> dict[str, Any]:
    """A ``VIDEO_info.json`` with its ``outputs`` list, or StateError saying what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StateError(f"{path}: not a readable manifest ({exc})") from exc
    outputs = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict)
        and isinstance(o.get("file"), str)
        and isinstance(o.get("person_id"), int)
        for o in outputs
    ):
        raise StateError(f"{path}: not a personframes manifest (no outputs list)")
    return document


def write_review_manifests(output_dir: Path) -> list[Path]:
    """Rewrite every finished video's info.json with the review; the files written."""
    written = []
    with ReviewStore(output_dir) as store:
        for stem in video_stems(output_dir):
            path = output_dir / manifest_name(stem)
            if not path.is_file():
                continue  # not finished: its manifest step will write the review
            document = read_manifest(path)
            annotate(document["outputs"], stem, store)
            write_json(path, document)
            written.append(path)
    return written
