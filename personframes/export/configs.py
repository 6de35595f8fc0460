"""The trainers' dataset configs, written as their own documentation and code read them.

- kohya sd-scripts (``--dataset_config``; docs/config_README-en.md, schema in
  library/config_util.py): ``[general]``, one ``[[datasets]]`` and a
  ``[[datasets.subsets]]`` per person folder (``image_dir``, ``num_repeats``,
  ``class_tokens``);
- musubi-tuner (``--dataset_config``; docs/dataset_config.md, schema in
  src/musubi_tuner/dataset/config_utils.py): ``[general]``, then a ``[[datasets]]`` per
  folder: videos (``video_directory``, ``target_frames``, ``frame_extraction = "head"``,
  ``resolution``) and images (``image_directory``), each its own ``cache_directory``;
- ai-toolkit (the ``datasets:`` list of a job, config/examples/*.yaml, keys of
  ``DatasetConfig`` in toolkit/config_modules.py): an entry per folder, ``num_frames``
  for a folder of clips;
- diffusion-pipe (the ``dataset`` file of a training config; examples/dataset.toml,
  read by utils/dataset.py): top-level ``resolutions``, aspect-ratio buckets and
  ``frame_buckets``, then a ``[[directory]]`` per folder (``path``, ``num_repeats``).

Every folder is named by its absolute path: the trainers open a relative path from their
own working directory, not from the config's folder, so an absolute one works wherever
the trainer is started. An export folder moved elsewhere needs those paths edited, or
an export into its new place (docs/review-export.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .sources import Clip

KOHYA_CONFIG = "dataset_config.toml"
MUSUBI_CONFIG = "dataset_config.toml"
AITOOLKIT_CONFIG = "ai-toolkit-datasets.yaml"
DIFFUSION_PIPE_CONFIG = "dataset.toml"
DIFFUSION_PIPE_AR = (0.5, 2.0)  # its example's aspect-ratio range, widened to the clips'
DIFFUSION_PIPE_IMAGE_SIDE = 512  # its example's resolution, for images alone
CACHE_FOLDER = "cache"  # musubi: cache/FOLDER per dataset (musubi makes it)
CAPTION_EXTENSION = ".txt"
MUSUBI_DEFAULT_RESOLUTION = (960, 544)  # musubi-tuner's own default, for images alone
AITOOLKIT_IMAGE_RESOLUTIONS = (512, 768, 1024)  # its FLUX example's, for images alone

TomlValue = str | int | float | bool | list[int]


@dataclass(frozen=True)
class Folder:
    """A folder of the export: its name in the export folder and its clips' facts (none
    for a folder of images)."""

    name: str
    clips: tuple[Clip, ...]


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round(value, 3))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A TOML basic string: JSON's escapes are TOML's (\" \\ \b \t \n \f \r \uXXXX), and
    # DEL, which JSON leaves as it is, is a control character TOML refuses.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _table(header: str, values: dict[str, TomlValue], indent: str = "") -> list[str]:
    lines = [f"{indent}{header}"]
    lines += [f"{indent}{key} = {_toml_value(value)}" for key, value in values.items()]
    return [*lines, ""]


def _header(trainer: str, how: str) -> list[str]:
    return [f"# {trainer} dataset config written by personframes export: {how}", ""]


def _largest(clips: tuple[Clip, ...]) -> tuple[int, int]:
    """The size of the largest clip (by area): no clip is scaled down to train."""
    clip = max(clips, key=lambda c: (c.width * c.height, c.width))
    return clip.width, clip.height


def kohya_toml(root: Path, folders: list[Folder], repeats: int) -> bytes:
    """sd-scripts' DreamBooth-style config: a subset per person folder. The resolution
    and batch size are left to the training command (``--resolution``: the model's)."""
    lines = _header("kohya sd-scripts", "train with --dataset_config THIS_FILE")
    lines += _table(
        "[general]",
        {"caption_extension": CAPTION_EXTENSION, "enable_bucket": True, "bucket_no_upscale": True},
    )
    lines += ["[[datasets]]", ""]
    for folder in folders:
        # kohya's folder name is REPEATS_CLASS TOKENS; the TOML says both explicitly
        # (sd-scripts reads neither from image_dir's name when given a config).
        class_tokens = folder.name.split("_", 1)[1]
        values: dict[str, TomlValue] = {
            "image_dir": str(root / folder.name),
            "num_repeats": repeats,
            "class_tokens": class_tokens,
        }
        lines += _table("[[datasets.subsets]]", values, indent="  ")
    return "\n".join(lines).encode("utf-8")


def musubi_toml(root: Path, folders: list[Folder]) -> bytes:
    """musubi-tuner's config: a video dataset for the clips, an image dataset for the
    images. ``frame_extraction = "head"`` with ``target_frames`` the frame counts present
    (each 4n+1): every clip was cut to its count already, so its first N frames are the
    whole clip; a clip longer than another count also gives its first frames at that
    count. No ``source_fps``: the clips are at the rate they were made for."""
    all_clips = tuple(c for f in folders for c in f.clips)
    resolution = _largest(all_clips) if all_clips else MUSUBI_DEFAULT_RESOLUTION
    lines = _header("musubi-tuner", "cache and train with --dataset_config THIS_FILE")
    lines += _table(
        "[general]",
        {
            "resolution": list(resolution),
            "caption_extension": CAPTION_EXTENSION,
            "batch_size": 1,
            "enable_bucket": True,
            "bucket_no_upscale": True,
        },
    )
    for folder in folders:
        cache = str(root / CACHE_FOLDER / folder.name)
        values: dict[str, TomlValue]
        if folder.clips:
            values = {
                "video_directory": str(root / folder.name),
                "cache_directory": cache,
                "target_frames": sorted({c.frames for c in folder.clips}),
                "frame_extraction": "head",
                "resolution": list(_largest(folder.clips)),
            }
        else:
            values = {"image_directory": str(root / folder.name), "cache_directory": cache}
        lines += _table("[[datasets]]", values)
    return "\n".join(lines).encode("utf-8")


def _side(size: tuple[int, int]) -> int:
    """ai-toolkit's resolution is the side of a square of the training area."""
    return math.isqrt(size[0] * size[1])


def aitoolkit_yaml(root: Path, folders: list[Folder]) -> bytes:
    """ai-toolkit's ``datasets:`` list: a folder of clips per frame count (``num_frames``,
    each clip shrunk to it: all its frames), a folder of images; the images train at the
    clips' area when there are clips."""
    all_clips = tuple(c for f in folders for c in f.clips)
    images = [_side(_largest(all_clips))] if all_clips else list(AITOOLKIT_IMAGE_RESOLUTIONS)
    datasets: list[dict[str, object]] = []
    for folder in folders:
        entry: dict[str, object] = {
            "folder_path": str(root / folder.name),
            "caption_ext": CAPTION_EXTENSION.lstrip("."),
            "cache_latents_to_disk": True,
        }
        if folder.clips:
            (frames,) = {c.frames for c in folder.clips}  # a folder per frame count
            entry["resolution"] = [_side(_largest(folder.clips))]
            entry["num_frames"] = frames
            entry["shrink_video_to_frames"] = True
        else:
            entry["resolution"] = images
        datasets.append(entry)
    header = (
        "# ai-toolkit datasets written by personframes export: put this list under\n"
        "# config.process[0].datasets of an ai-toolkit job (see its config/examples).\n"
    )
    body = yaml.safe_dump(
        {"datasets": datasets}, sort_keys=False, allow_unicode=True, default_flow_style=None
    )
    return (header + body).encode("utf-8")


def diffusion_pipe_toml(root: Path, folders: list[Folder]) -> bytes:
    """diffusion-pipe's dataset config: the training area of the largest clip, aspect
    ratio buckets over the clips' shapes, a frame bucket per clip length (a video goes
    to the longest bucket it fills: its own length, so no frame is dropped; 1 is the
    images'), and a ``[[directory]]`` per folder."""
    all_clips = tuple(c for f in folders for c in f.clips)
    ratios = [c.width / c.height for c in all_clips]
    side = _side(_largest(all_clips)) if all_clips else DIFFUSION_PIPE_IMAGE_SIDE
    lines = _header("diffusion-pipe", "name it as the training config's dataset = '...'")
    lines += [
        f"resolutions = {_toml_value([side])}",
        f"enable_ar_bucket = {_toml_value(True)}",
        f"min_ar = {_toml_value(math.floor(min([DIFFUSION_PIPE_AR[0], *ratios]) * 1000) / 1000)}",
        f"max_ar = {_toml_value(math.ceil(max([DIFFUSION_PIPE_AR[1], *ratios]) * 1000) / 1000)}",
        "num_ar_buckets = 7",
        f"frame_buckets = {_toml_value(sorted({1, *(c.frames for c in all_clips)}))}",
        "",
    ]
    for folder in folders:
        lines += _table("[[directory]]", {"path": str(root / folder.name), "num_repeats": 1})
    return "\n".join(lines).encode("utf-8")
