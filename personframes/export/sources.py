"""Which images an export takes: from finished videos' manifests, by review decision
and kind, each with its person group and the token that names the group."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ExportConfig
from ..output.naming import manifest_name
from ..output.safe_paths import is_real_file
from ..state.review import ReviewStore
from ..state.review_manifest import annotate, read_manifest, video_stems


@dataclass(frozen=True)
class Source:
    path: Path  # the image in the output folder
    entry: dict[str, Any]  # its info.json entry, with the review's fields
    video: str
    group: str  # the person group's root (VIDEO:ID)
    token: str  # the group's name from review, else VIDEO_personID

    @property
    def decision(self) -> str:
        return str(self.entry["review"])


def group_token(group: str, names: dict[str, str]) -> str:
    if group in names:
        return names[group]
    video, _, number = group.rpartition(":")
    return f"{video}_person{number}"


def pick(output_dir: Path, settings: ExportConfig) -> tuple[list[Source], Counter[str]]:
    """The images to export, in video and manifest order, and what was left out why."""
    skipped: Counter[str] = Counter()
    chosen: list[Source] = []
    allowed = {"accepted"} if settings.include == "accepted" else {"accepted", "unreviewed"}
    with ReviewStore(output_dir, reading=True) as store:
        names = store.names()
        for stem in video_stems(output_dir):
            path = output_dir / manifest_name(stem)
            if not path.is_file():
                skipped["videos not finished"] += 1
                continue
            outputs = read_manifest(path)["outputs"]
            annotate(outputs, stem, store)
            for entry in outputs:
                relative = str(entry["file"])
                if settings.kind != "all" and entry.get("kind") != settings.kind:
                    skipped["other kinds"] += 1
                elif entry["review"] not in allowed:
                    skipped[str(entry["review"])] += 1
                elif not is_real_file(output_dir, relative):
                    skipped["missing or linked files"] += 1
                else:
                    group = str(entry.get("person_group") or f"{stem}:{entry['person_id']}")
                    token = group_token(group, names)
                    chosen.append(Source(output_dir / relative, entry, stem, group, token))
    return chosen, skipped
