"""Where each exported image or clip goes and what is written beside it, per trainer layout.

- kohya: ``REPEATS_TOKEN CLASS/IMAGE`` with ``IMAGE.txt`` (the token, then the tags);
  a folder per person group (``--group-by person``) or one (``--group-by none``), and
  ``dataset_config.toml`` for sd-scripts' ``--dataset_config`` (a subset per folder);
- imagefolder: ``IMAGE`` and ``metadata.jsonl`` (``file_name`` first), the layout of
  Hugging Face ``datasets.load_dataset("imagefolder", data_dir=DEST)``;
- jsonl: ``FILE`` (images and clips) and ``dataset.jsonl``, each line the file's whole
  info.json entry with its review decision and person group;
- musubi: ``videos/CLIP.mp4`` (and ``images/IMAGE`` with ``--with-images``), each with
  ``STEM.txt``, and musubi-tuner's ``dataset_config.toml`` (a dataset per folder);
- aitoolkit: ``clips_NNf/CLIP.mp4``, a folder per frame count (and ``images/IMAGE`` with
  ``--with-images``), each with ``STEM.txt``, and ``ai-toolkit-datasets.yaml`` (the
  ``datasets:`` block of an ai-toolkit job, a dataset per folder);
- diffusion-pipe: ``videos/CLIP.mp4`` (and ``images/IMAGE`` with ``--with-images``), each
  with ``STEM.txt``, and diffusion-pipe's ``dataset.toml`` (a ``[[directory]]`` per
  folder, a frame bucket per clip length).

kohya and imagefolder take no clips; musubi, aitoolkit and diffusion-pipe take images only
when asked.
The trainers' config files are written by ``configs``, from the folders placed here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..config import ExportConfig
from ..errors import OutputError
from ..output.captions import caption_text
from . import configs
from .sources import Clip, Source

DEFAULT_TRIGGER = "subject"
KOHYA_FOLDER = r"^\d+_.+"  # kohya's rule for a training folder's name
CAPTION_FILES = ("kohya", "musubi", "aitoolkit", "diffusion-pipe")  # a STEM.txt beside each
IMAGE_LAYOUTS = ("kohya", "imagefolder")  # no clips
VIDEO_LAYOUTS = ("musubi", "aitoolkit", "diffusion-pipe")  # images with ExportConfig.images
CLIPS_LEFT_OUT = "clips (not for this layout)"
IMAGES_LEFT_OUT = "images (--with-images takes them)"
IMAGES_FOLDER = "images"
MUSUBI_VIDEOS = "videos"


@dataclass(frozen=True)
class Placed:
    source: Source
    file: str  # the image's or clip's path in the export folder
    caption: str  # its caption (the token, then the tags)
    caption_file: str | None  # where the caption is written (CAPTION_FILES), else None

    @property
    def folder(self) -> str:
        """The folder it is in, relative to the export folder ("." for the top)."""
        return PurePosixPath(self.file).parent.as_posix()


def for_layout(sources: list[Source], settings: ExportConfig) -> tuple[list[Source], Counter[str]]:
    """The sources this layout writes, and how many of the others it leaves out, why."""
    kept: list[Source] = []
    left_out: Counter[str] = Counter()
    for source in sources:
        if source.clip is not None and settings.format in IMAGE_LAYOUTS:
            left_out[CLIPS_LEFT_OUT] += 1
        elif source.clip is None and settings.format in VIDEO_LAYOUTS and not settings.images:
            left_out[IMAGES_LEFT_OUT] += 1
        else:
            kept.append(source)
    return kept, left_out


def _token(source: Source, settings: ExportConfig) -> str:
    if settings.format in CAPTION_FILES and settings.group_by == "none":
        return settings.trigger or DEFAULT_TRIGGER
    return source.token


def _caption(source: Source, token: str) -> str:
    entry = source.entry
    return caption_text(
        [token], str(entry["pose"]), str(entry["head_direction"]), str(entry["shot_type"])
    )


def _folder(source: Source, token: str, settings: ExportConfig) -> str | None:
    """The folder the layout puts ``source`` in; None: the export folder itself."""
    if settings.format == "kohya":
        return f"{settings.repeats}_{token} {settings.class_word}"
    if settings.format in ("musubi", "diffusion-pipe"):
        return IMAGES_FOLDER if source.clip is None else MUSUBI_VIDEOS
    if settings.format == "aitoolkit":
        # ai-toolkit reads one num_frames per dataset: a folder per frame count.
        return IMAGES_FOLDER if source.clip is None else f"clips_{source.clip.frames}f"
    return None


def place(sources: list[Source], settings: ExportConfig) -> list[Placed]:
    placed = []
    for source in sources:
        token = _token(source, settings)
        name = source.path.name
        caption = _caption(source, token)
        folder = _folder(source, token, settings)
        if folder is None:
            placed.append(Placed(source, name, caption, None))
        else:
            stem = name.rsplit(".", 1)[0]
            placed.append(Placed(source, f"{folder}/{name}", caption, f"{folder}/{stem}.txt"))
    return placed


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=False) + "\n"


def _folders(placed: list[Placed]) -> list[configs.Folder]:
    """The folders the files were placed in (by name), each with its clips' facts."""
    clips: dict[str, list[Clip]] = {}
    for p in placed:
        found = clips.setdefault(p.folder, [])
        if p.source.clip is not None:
            found.append(p.source.clip)
    return [configs.Folder(name, tuple(clips[name])) for name in sorted(clips)]


def metadata(placed: list[Placed], settings: ExportConfig, root: Path) -> tuple[str, bytes] | None:
    """The layout's one metadata file (name, content), if it has one. ``root``: the
    export folder, absolute (the trainers' configs name their folders by it)."""
    if settings.format in ("kohya", "musubi", "aitoolkit", "diffusion-pipe"):
        try:
            str(root).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise OutputError(
                f"{root}: a folder name a trainer's config cannot hold (not UTF-8): "
                "choose another export folder"
            ) from exc
    if settings.format == "kohya":
        return configs.KOHYA_CONFIG, configs.kohya_toml(root, _folders(placed), settings.repeats)
    if settings.format == "musubi":
        return configs.MUSUBI_CONFIG, configs.musubi_toml(root, _folders(placed))
    if settings.format == "aitoolkit":
        return configs.AITOOLKIT_CONFIG, configs.aitoolkit_yaml(root, _folders(placed))
    if settings.format == "diffusion-pipe":
        return configs.DIFFUSION_PIPE_CONFIG, configs.diffusion_pipe_toml(root, _folders(placed))
    if settings.format == "imagefolder":
        lines = []
        for p in placed:
            entry = p.source.entry
            quality = entry.get("quality", {}).get("overall")
            lines.append(
                _line(
                    {
                        "file_name": p.file,
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
                    "file": p.file,
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
