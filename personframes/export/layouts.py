"""Where each exported image goes and what is written beside it, per trainer layout.

- kohya: ``REPEATS_TOKEN CLASS/IMAGE`` with ``IMAGE.txt`` (the token, then the tags);
  a folder per person group (``--group-by person``) or one (``--group-by none``);
- imagefolder: ``IMAGE`` and ``metadata.jsonl`` (``file_name`` first), the layout of
  Hugging Face ``datasets.load_dataset("imagefolder", data_dir=DEST)``;
- jsonl: ``IMAGE`` and ``dataset.jsonl``, each line the image's whole info.json entry with
  its review decision and person group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config import ExportConfig
from ..output.captions import caption_text
from .sources import Source

DEFAULT_TRIGGER = "subject"
KOHYA_FOLDER = r"^\d+_.+"  # kohya's rule for a training folder's name


@dataclass(frozen=True)
class Placed:
    source: Source
    image: str  # the image's path in the export folder
    caption: str  # its caption (the token, then the tags)
    caption_file: str | None  # where the caption is written (kohya), else None


def _token(source: Source, settings: ExportConfig) -> str:
    if settings.format == "kohya" and settings.group_by == "none":
        return settings.trigger or DEFAULT_TRIGGER
    return source.token


def _caption(source: Source, token: str) -> str:
    entry = source.entry
    return caption_text(
        [token], str(entry["pose"]), str(entry["head_direction"]), str(entry["shot_type"])
    )


def place(sources: list[Source], settings: ExportConfig) -> list[Placed]:
    placed = []
    for source in sources:
        token = _token(source, settings)
        name = source.path.name
        caption = _caption(source, token)
        if settings.format == "kohya":
            folder = f"{settings.repeats}_{token} {settings.class_word}"
            stem = name.rsplit(".", 1)[0]
            placed.append(Placed(source, f"{folder}/{name}", caption, f"{folder}/{stem}.txt"))
        else:
            placed.append(Placed(source, name, caption, None))
    return placed


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=False) + "\n"


def metadata(placed: list[Placed], settings: ExportConfig) -> tuple[str, bytes] | None:
    """The layout's one metadata file (name, content), if it has one."""
    if settings.format == "imagefolder":
        lines = []
        for p in placed:
            entry = p.source.entry
            quality = entry.get("quality", {}).get("overall")
            lines.append(
                _line(
                    {
                        "file_name": p.image,
                        "person": p.source.token,
                        "person_group": p.source.group,
                        "video": p.source.video,
                        "kind": entry["kind"],
                        "pose": entry["pose"],
                        "head_direction": entry["head_direction"],
                        "shot_type": entry["shot_type"],
                        "quality": None if quality is None else float(quality),
                        "caption": p.caption.strip(),
                        "review": p.source.decision,
                    }
                )
            )
        return "metadata.jsonl", "".join(lines).encode()
    if settings.format == "jsonl":
        lines = [
            _line(
                {
                    **p.source.entry,
                    "file": p.image,
                    "source_file": p.source.entry["file"],
                    "video": p.source.video,
                    "person": p.source.token,
                    "caption": p.caption.strip(),
                }
            )
            for p in placed
        ]
        return "dataset.jsonl", "".join(lines).encode()
    return None
