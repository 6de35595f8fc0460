"""Which images and clips an export takes: from finished videos' manifests, by review
decision and kind, each with its person group and the token that names the group (and
a clip with its frame count, rate and size)."""

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

CLIP = "clip"  # the info.json kind of a clip (the others are images)
BAD_CLIP = "clips with a bad entry (frames, fps or size)"


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class Clip:
    """What the video trainers' configs need of a clip: its info.json facts."""

    frames: int  # of the form 4n+1
    fps: float
    width: int
    height: int

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> Clip | None:
        """The clip's facts, or None when the entry does not hold them as the clips
        step writes them (a frame count of the form 4n+1, a rate, a size [W, H])."""
        frames, fps, size = entry.get("frames"), entry.get("fps"), entry.get("size")
        if not (_positive_int(frames) and isinstance(frames, int) and frames % 4 == 1):
            return None
        if not (isinstance(fps, int | float) and not isinstance(fps, bool) and fps > 0):
            return None
        if not (isinstance(size, list) and len(size) == 2 and all(map(_positive_int, size))):
            return None
        return cls(frames, float(fps), int(size[0]), int(size[1]))


@dataclass(frozen=True)
class Source:
    path: Path  # the image or clip in the output folder
    entry: dict[str, Any]  # its info.json entry, with the review's fields
    video: str
    group: str  # the person group's root (VIDEO:ID)
    token: str  # the group's name from review, else VIDEO_personID
    clip: Clip | None = None  # a clip's facts; None for an image

    @property
    def decision(self) -> str:
        return str(self.entry["review"])


def group_token(group: str, names: dict[str, str]) -> str:
    if group in names:
        return names[group]
    video, _, number = group.rpartition(":")
    return f"{video}_person{number}"


def pick(output_dir: Path, settings: ExportConfig) -> tuple[list[Source], Counter[str]]:
    """The images and clips to export, in video and manifest order, and what was left
    out why."""
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
                is_clip = entry.get("kind") == CLIP
                clip = Clip.parse(entry) if is_clip else None
                if settings.kind != "all" and entry.get("kind") != settings.kind:
                    skipped["other kinds"] += 1
                elif entry["review"] not in allowed:
                    skipped[str(entry["review"])] += 1
                elif not is_real_file(output_dir, relative):
                    skipped["missing or linked files"] += 1
                elif is_clip and clip is None:
                    skipped[BAD_CLIP] += 1
                else:
                    group = str(entry.get("person_group") or f"{stem}:{entry['person_id']}")
                    token = group_token(group, names)
                    file = output_dir / relative
                    chosen.append(Source(file, entry, stem, group, token, clip))
    return chosen, skipped
