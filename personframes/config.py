"""Configuration: the one table of defaults, and how overrides are layered.

Precedence, lowest to highest: defaults < config file (YAML or JSON) <
environment variables ``PERSONFRAMES_<SECTION>__<FIELD>`` < CLI flags.
An override counts when it ``is not None``, so 0 and false are honoured.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .compat import translate
from .devices import Device
from .errors import ConfigError, printable

ENV_PREFIX = "PERSONFRAMES_"
# The settings' own vocabularies and measured defaults: the modules that use them import
# them from here (the config imports nothing of the domain, so loading it is cheap).
PrecisionMode = Literal["fp32", "bf16", "auto"]
PolicyName = Literal["auto", "always"]
# The ids of the registries' entries (the registries are checked against these: a new
# engine, detector or catalogue model adds its id here too; tests/test_config.py).
RestoreEngineName = Literal["auto", "ncnn", "torch", "onnxruntime", "openvino", "opencv"]
FaceDetectorName = Literal[
    "centerface", "mediapipe-full", "mediapipe-short", "dlib-hog", "centerface+mediapipe"
]
ModelId = Literal[
    "realesrgan-x4plus",
    "realesr-animevideov3",
    "realesrgan-x4plus-anime",
    "realesrgan-x4plus-pth",
    "gfpgan-v1.4",
    "codeformer",
]
# Chosen by bench/accuracy.py on the labelled frames (main-face recall, 44 faces):
# CenterFace at 640 px 39/44, at 960 px 39/44, at native size (1280 px here) 41/44 (the
# two profiles it gains score 0.40 and 0.42), and a second pass at 192 px adds the
# motion-blurred close-up that fills a 360 px frame (42/44); detection time 0.88 s ->
# 3.21 s for the 55 frames. MediaPipe full-range: 32/44.
DEFAULT_FACE_DETECTOR: FaceDetectorName = "centerface"
DEFAULT_MAX_SIDE = 1280
DEFAULT_COARSE_SIDE = 192
DEFAULT_CONFIDENCE = 0.4

# Identity distance of a restored face from its Lanczos resize beyond which the result is
# refused (bench/identity.py): restoration may move a face less than one person's faces
# lie apart between frames (median 0.44). Measured with the default model and strength:
# the auto policy's restorations moved faces 0.03-0.20 on the shared videos and
# 0.15-0.34 on the shared photos shrunk to 32-128 px; forced on every face ("always"),
# up to 0.42 and 0.55.
DEFAULT_MAX_DRIFT = 0.4
ImageFormat = Literal["jpg", "png", "webp"]
CropRatio = Literal["1:1", "4:3", "16:9", "any"]


# Settings that say where things are or run, never what comes out: a step's hash
# leaves them out, so ``-o out`` and ``-o /abs/out``, another model cache or another
# device resume the same work.
NOT_IN_HASH = frozenset(
    {"output.output_dir", "models.cache_dir", "models.device", "models.restore_engine"}
)


def _usable_path(value: Any) -> Any:
    """An empty path would quietly mean the current folder, and a NUL cannot be in one."""
    if isinstance(value, (str, Path)):
        text = str(value) if isinstance(value, Path) else value
        if text == "":
            raise ValueError("empty path (write . for the current folder)")
        if "\0" in text:
            raise ValueError("the path contains a NUL character")
    return value


UsablePath = Annotated[Path, BeforeValidator(_usable_path)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ModelsConfig(_Section):
    device: Device = Field(
        "auto",
        description="where face detection and restoration run: auto uses a GPU when one "
        "works; gpu asks for one (without one: the CPU, a counted fallback)",
    )
    cache_dir: UsablePath | None = Field(
        None, description="model cache; default: the platform cache dir (PERSONFRAMES_CACHE_DIR)"
    )
    restore_engine: RestoreEngineName = Field(
        "auto",
        description="engine that runs the restoration model: auto: the first restoration "
        "on this machine that needs the model measures the installed engines (a few "
        "seconds) and saves the choice in the model cache for every later run "
        "(`personframes models tune` measures again); a resumed video keeps the engine it "
        "started with; or the engine to use",
    )
    precision: PrecisionMode = Field(
        "auto",
        description="restoration precision: auto: bf16 where the CPU computes it natively, "
        "the face as written (blended at the policy's strength) stays within 50 dB PSNR "
        "of fp32's, and it is measured over 25 % faster, else fp32; fp32; bf16 (where "
        "native, accepted unless broken)",
    )
    face_detector: FaceDetectorName = Field(
        DEFAULT_FACE_DETECTOR, description="face detector (see `personframes models list`)"
    )
    confidence: float = Field(
        DEFAULT_CONFIDENCE, ge=0.0, le=1.0, description="minimum face detection score"
    )
    detector_max_side: int = Field(
        DEFAULT_MAX_SIDE, ge=128, le=4096, description="longest side the face detector sees (px)"
    )
    detector_coarse_side: int | None = Field(
        DEFAULT_COARSE_SIDE,
        ge=64,
        le=1024,
        description="a second detector pass on the frame shrunk to this side finds the "
        "close-ups too large for the first (none: one pass)",
    )
    batch_size: int = Field(
        1,
        ge=1,
        le=64,
        description="frames per detector call; accepted for Person From Vid's configs, "
        "but detection runs one frame at a time (no effect)",
    )


class SamplingConfig(_Section):
    sample_interval: float = Field(
        0.25, gt=0.0, description="seconds between sampled frames (keyframes are always added)"
    )
    max_frames: int | None = Field(None, ge=1, description="cap on candidate frames")
    dedup_distance: int = Field(
        2, ge=0, le=64, description="max Hamming distance of 64-bit dHashes counted as duplicates"
    )


class PoseConfig(_Section):
    standing_min_angle: float = Field(160.0, description="hip and knee angles above: standing")
    sitting_min_angle: float = Field(80.0, description="hip angle range for sitting: lower bound")
    sitting_max_angle: float = Field(120.0, description="hip angle range for sitting: upper bound")
    squatting_max_angle: float = Field(90.0, description="knee angle below: squatting")
    min_visibility: float = Field(0.5, ge=0.0, le=1.0, description="landmark visibility needed")


class HeadAngleConfig(_Section):
    yaw_looking: float = Field(22.5, description="|yaw| above this: looking left/right")
    yaw_profile: float = Field(67.5, description="|yaw| above this: profile")
    pitch_threshold: float = Field(22.5, description="|pitch| above this: looking up/down")
    max_roll: float = Field(30.0, description="|roll| above this: head angle not classified")


class QualityConfig(_Section):
    threshold: float = Field(
        0.2, ge=0.0, le=1.0, description="faces whose quality scores below are not selected"
    )


class SelectionConfig(_Section):
    min_frames_per_category: int = Field(
        3, ge=0, description="per person and category, kept even when they look alike"
    )
    max_frames_per_category: int = Field(5, ge=1, description="per person and category")
    min_seconds_apart: float = Field(
        3.0, ge=0.0, description="seconds between frames selected in one category"
    )
    min_face_size: int = Field(
        48,
        ge=0,
        le=4096,
        description="faces smaller than this (box's longer side, px) get no face crop "
        "(their frames and body crops are still written); the model cannot restore "
        "them and a crop of one is a tenfold enlargement",
    )
    min_face_sharpness: float = Field(
        8.0,
        ge=0.0,
        description="faces whose detail (Laplacian variance of the face box) is below this "
        "get no face crop: on the labelled frames, faces too defocused or dark to count "
        "measure 1-6, counted faces 9 and more",
    )
    min_profile_score: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="faces the face mesh cannot fit (profiles, backs of heads) get a face "
        "crop only at this detector score or more: on the labelled frames, backs of heads "
        "and hair-covered faces score 0.10-0.30, profiles 0.40-0.85",
    )
    people: int | None = Field(
        None,
        ge=1,
        description="keep only the N people seen in the most candidate frames (default: everyone)",
    )
    reference_faces: list[UsablePath] = Field(
        [],
        description="keep only the people whose faces match any of these photos (repeat the "
        "option for more photos; each photo's largest face is used)",
    )
    exclude_faces: list[UsablePath] = Field(
        [], description="leave out the people whose faces match any of these photos"
    )
    reference_distance: float = Field(
        0.6,
        gt=0.0,
        le=2.0,
        description="a person matches a photo when the median identity distance of their "
        "faces to it is at most this: on the shared videos two people's faces lay at a "
        "median 0.38 and 0.53 from a crop of them, everyone else's 0.73 and more",
    )

    @model_validator(mode="after")
    def _min_not_above_max(self) -> SelectionConfig:
        if self.min_frames_per_category > self.max_frames_per_category:
            raise ValueError("min_frames_per_category must not exceed max_frames_per_category")
        return self


class OutputConfig(_Section):
    output_dir: UsablePath | None = Field(None, description="default: the video's directory")
    format: ImageFormat = Field("jpg", description="image format of the outputs")
    jpg_quality: int = Field(95, ge=1, le=100, description="JPEG and WebP quality")
    png_optimize: bool = Field(False, description="smaller PNGs, slower to write")
    face_crops: bool = Field(True, description="write face crops")
    face_crop_padding: float = Field(
        0.1,
        ge=0.0,
        le=5.0,
        description="face crops frame the head (hair to chin); padding x its size on each side",
    )
    full_frames: bool = Field(True, description="write full frames")
    group_by_person: bool = Field(
        False,
        description="write each person's files into a folder person{ID}/ of the output "
        "folder (names unchanged; a frame chosen for several people goes to the first's)",
    )
    body_crops: bool = Field(False, description="write body crops")
    crop_ratio: CropRatio = Field(
        "any", description="shape of face and body crops; a ratio turns body crops on"
    )
    crop_padding: float = Field(
        0.1, ge=0.0, le=5.0, description="body crop padding, x the box's size on each side"
    )
    resize: int | None = Field(
        None, ge=256, le=4096, description="longest side of outputs (px; default: as found)"
    )
    caption: bool = Field(False, description="write a .txt caption beside each image")
    trigger: str | None = Field(None, description="trigger word that starts every caption")
    bucket: int | None = Field(
        None, ge=8, le=512, description="trim output sizes to multiples of this (px)"
    )
    face_restoration: bool = Field(True, description="restore face crops")
    face_restoration_strength: float = Field(
        0.8, ge=0.0, le=1.0, description="the most strength the policy may use (0: Lanczos only)"
    )
    face_restoration_policy: PolicyName = Field(
        "auto",
        description="auto: restore only where the measured table says it helps; "
        "always: run the model on every face at the given strength",
    )
    face_restoration_model: ModelId = Field(
        "realesrgan-x4plus", description="restoration model (see `personframes models list`)"
    )
    face_restoration_max_drift: float = Field(
        DEFAULT_MAX_DRIFT,
        gt=0.0,
        le=2.0,
        description="a restored face whose identity distance from the unrestored one is "
        "above this is replaced by the unrestored (Lanczos) face, counted as identity drift",
    )

    @model_validator(mode="before")
    @classmethod
    def _a_ratio_asks_for_body_crops(cls, data: Any) -> Any:
        """As in Person From Vid, a crop ratio given without a word on body crops turns
        them on (face crops follow the ratio either way)."""
        ratio = data.get("crop_ratio") if isinstance(data, dict) else None
        if ratio not in (None, "any") and data.get("body_crops") is None:
            return {**data, "body_crops": True}
        return data

    @field_validator("format", mode="before")
    @classmethod
    def _jpeg_is_jpg(cls, value: Any) -> Any:
        """Person From Vid's name for the format (its files are .jpg too)."""
        return "jpg" if isinstance(value, str) and value.lower() == "jpeg" else value


ClipPreset = Literal["wan", "hunyuan", "framepack"]
ClipCrop = Literal["frame", "person", "face"]


@dataclass(frozen=True)
class ClipFormat:
    """What a video model's trainer expects of a clip: frames per second, the most
    frames (4n+1), and the longest side (px) a clip is shrunk to."""

    fps: float
    frames: int
    longest_side: int


# musubi-tuner's recommendations (docs/dataset_config.md): Wan 2.1/2.2 16 fps (81
# frames, 5 s, 480p: 832 px), HunyuanVideo 24 fps (129 frames, 960 px at 544p),
# FramePack 30 fps (its sections are 1.2 s; 121 frames is 4 s, 640 px buckets).
CLIP_PRESETS: dict[str, ClipFormat] = {
    "wan": ClipFormat(16.0, 81, 832),
    "hunyuan": ClipFormat(24.0, 129, 960),
    "framepack": ClipFormat(30.0, 121, 640),
}


def _four_n_plus_one(value: int | None) -> int | None:
    if value is not None and value % 4 != 1:
        raise ValueError(f"a frame count of the form 4n+1 (1, 5, 9, ... 81), not {value}")
    return value


class ClipsConfig(_Section):
    """`extract --clips`: short clips of each kept person, for video-model LoRAs."""

    enabled: bool = Field(False, description="also write short clips of each kept person")
    preset: ClipPreset = Field(
        "wan",
        description="wan: 16 fps, up to 81 frames, 832 px; hunyuan: 24 fps, 129, 960 px; "
        "framepack: 30 fps, 121, 640 px",
    )
    fps: float | None = Field(
        None, gt=0.0, le=120.0, description="frames per second (default: the preset's)"
    )
    frames: int | None = Field(
        None, ge=5, le=1001, description="the most frames of a clip, 4n+1 (default: the preset's)"
    )
    min_frames: int | None = Field(
        None,
        ge=5,
        le=1001,
        description="the fewest frames of a clip, 4n+1 (default: 17, or --clip-frames if "
        "fewer); a person seen for less has no clip there",
    )
    crop: ClipCrop = Field(
        "frame",
        description="frame: the whole frame; person or face: follow the person's body or "
        "head with a smoothed box of one size per clip (--crop-ratio and --bucket apply)",
    )
    size: int | None = Field(
        None, ge=64, le=4096, description="longest side of clips (px; default: the preset's)"
    )
    per_person: int = Field(8, ge=1, le=1000, description="the most clips of each person")
    smoothing: float = Field(
        0.4,
        ge=0.0,
        le=5.0,
        description="seconds of the smoothing window of the crop box (0: the raw box)",
    )

    _frames_4n1 = field_validator("frames", "min_frames")(_four_n_plus_one)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> ClipsConfig:
        if self.min_frames is not None and self.min_frames > self.format().frames:
            raise ValueError("min_frames must not exceed the clip's frames")
        return self

    def fewest_frames(self) -> int:
        return self.min_frames or min(17, self.format().frames)

    def format(self) -> ClipFormat:
        """The preset's format with the given fps, frames and size."""
        preset = CLIP_PRESETS[self.preset]
        return ClipFormat(
            self.fps or preset.fps,
            self.frames or preset.frames,
            self.size or preset.longest_side,
        )


class RestoreConfig(_Section):
    """`personframes restore` (its own section: no extract step's saved progress hashes it)."""

    upscale: Literal[1, 2, 4] = Field(
        1, description="enlarge the whole image; faces are restored from their native pixels"
    )
    aligned: bool = Field(False, description="the inputs are aligned 512 px face crops")
    fidelity: float = Field(
        0.5, ge=0.0, le=1.0, description="CodeFormer's fidelity weight (0: quality, 1: fidelity)"
    )
    max_image_pixels: int = Field(
        178_956_970,
        ge=1,
        description="larger images are refused before decoding (Pillow's own refusal "
        "threshold, about 179 megapixels)",
    )


class ReviewConfig(_Section):
    """`personframes review` (the local gallery)."""

    port: int = Field(0, ge=0, le=65535, description="port on 127.0.0.1 (0: a free one)")
    browser: bool = Field(True, description="open the gallery in the web browser")


ExportFormat = Literal["kohya", "imagefolder", "jsonl", "musubi", "aitoolkit", "diffusion-pipe"]
# A trigger or class word: one word (letters, digits, _ . ' -), usable in a folder name.
# Checked in Python, not by a pydantic ``pattern``: its compilation at import runs where
# a signal's exit (SIGTERM while starting) would be swallowed.
TOKEN_WORD = re.compile(r"[\w][\w.'-]{0,62}")


class ExportConfig(_Section):
    """`personframes export` (trainer layouts of the reviewed images and clips)."""

    format: ExportFormat = Field(
        "kohya",
        description="kohya: REPEATS_TOKEN CLASS/ folders with .txt captions and "
        "dataset_config.toml; imagefolder: images and metadata.jsonl (Hugging Face "
        "datasets); jsonl: images, clips and dataset.jsonl; musubi: videos/ (clips) with "
        ".txt captions and musubi-tuner's dataset_config.toml; aitoolkit: clips_NNf/ "
        "folders with .txt captions and ai-toolkit's datasets YAML; diffusion-pipe: "
        "videos/ (clips) with .txt captions and diffusion-pipe's dataset.toml",
    )
    include: Literal["accepted", "unreviewed"] = Field(
        "accepted",
        description="accepted: only the accepted images; unreviewed: all but the rejected",
    )
    kind: Literal["all", "face", "frame", "body", "clip"] = Field(
        "all", description="which outputs: face crops, full frames, body crops, clips, or all"
    )
    images: bool = Field(
        False,
        description="musubi, aitoolkit: the images too, in an image dataset of their own "
        "beside the clips' (without it they take only clips)",
    )
    group_by: Literal["person", "none"] = Field(
        "person",
        description="kohya: a folder per person (merged, named in review) or one; none: "
        "every caption of kohya, musubi and aitoolkit starts with the trigger",
    )
    repeats: int = Field(
        10, ge=1, le=10000, description="kohya: the folder's repeat count (steps per image)"
    )
    trigger: str | None = Field(
        None,
        description="the token with --group-by none (kohya's one folder, every caption's "
        "first word; default: subject); per person it is the person's name from review, "
        "else VIDEO_personID",
    )
    class_word: str = Field("person", description="kohya: the class word in folder names")
    bucket: int | None = Field(
        None,
        ge=8,
        le=512,
        description="trim image sizes to multiples of this (px; logged in buckets.csv)",
    )
    link: bool = Field(False, description="hard-link the images instead of copying them")

    @field_validator("trigger", "class_word")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        if value is not None and not TOKEN_WORD.fullmatch(value):
            raise ValueError("one word: letters, digits, _ . ' - (up to 63 characters)")
        return value


# Settings that say where a run's work is done, not what it makes: a manifest leaves
# them out, so the same videos give the same files on one machine, in shards or on Ray.
PLACEMENT_SETTINGS = (
    "workers",
    "shard",
    "executor",
    "ray_address",
    "ray_timeout",
    "gpus_per_worker",
    "retries",
)


class PipelineConfig(_Section):
    force: bool = Field(False, description="start over, ignoring saved progress")
    workers: int = Field(1, ge=1, le=64, description="videos processed in parallel")
    commit_every: int = Field(25, ge=1, description="frames between progress commits")
    keep_temp: bool = Field(
        False,
        description="keep intermediate files (candidate frames, face crops before "
        "restoration) in OUT/.personframes/temp/VIDEO/",
    )
    shard: str | None = Field(
        None,
        description="K/N: process only shard K (0 to N-1) of the videos, split by their "
        "content, so N machines of a job array can share one output folder",
    )
    executor: Literal["local", "ray"] = Field(
        "local", description="where videos run: this machine, or a Ray cluster (the ray extra)"
    )
    ray_address: str | None = Field(
        None, description="the Ray cluster to join (host:port or auto); default: start a local one"
    )
    ray_timeout: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="seconds to wait for a local Ray cluster to start, or for the one at "
        "--ray-address to answer, before giving up",
    )
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs each Ray worker reserves")
    retries: int = Field(
        2, ge=0, le=10, description="times a video whose Ray worker died is run on another"
    )

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shard(value)
        return value

    def shard_of(self) -> tuple[int, int] | None:
        """(K, N) of ``--shard K/N``, or None."""
        return None if self.shard is None else parse_shard(self.shard)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` as (K, N), 0 <= K < N; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if match is None or not int(match[1]) < int(match[2]):
        raise ValueError("K/N with 0 <= K < N, such as 0/4")
    return int(match[1]), int(match[2])


class LoggingConfig(_Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="least important messages shown"
    )
    verbose: bool = Field(False, description="debug logging")
    quiet: bool = Field(False, description="errors only, no progress or summary")
    log_file: UsablePath | None = Field(None, description="also log to this file")
    log_format: Literal["text", "json"] = Field("text", description="log line format")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Config(_Section):
    models: ModelsConfig = Field(default_factory=lambda: ModelsConfig())
    sampling: SamplingConfig = Field(default_factory=lambda: SamplingConfig())
    pose: PoseConfig = Field(default_factory=lambda: PoseConfig())
    head_angle: HeadAngleConfig = Field(default_factory=lambda: HeadAngleConfig())
    quality: QualityConfig = Field(default_factory=lambda: QualityConfig())
    selection: SelectionConfig = Field(default_factory=lambda: SelectionConfig())
    output: OutputConfig = Field(default_factory=lambda: OutputConfig())
    clips: ClipsConfig = Field(default_factory=lambda: ClipsConfig())
    restore: RestoreConfig = Field(default_factory=lambda: RestoreConfig())
    pipeline: PipelineConfig = Field(default_factory=lambda: PipelineConfig())
    review: ReviewConfig = Field(default_factory=lambda: ReviewConfig())
    export: ExportConfig = Field(default_factory=lambda: ExportConfig())
    logging: LoggingConfig = Field(default_factory=lambda: LoggingConfig())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (paths as strings)."""
        data: dict[str, Any] = json.loads(self.model_dump_json())
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def section_hash(self, *selectors: str) -> str:
        """Stable hash of the named sections (``"output"``) or fields
        (``"output.format"``), without the NOT_IN_HASH settings."""
        import hashlib

        everything = self.to_dict()
        data: dict[str, Any] = {}
        for selector in selectors:
            section, _, name = selector.partition(".")
            fields = [name] if name else list(everything[section])
            for field in fields:
                if f"{section}.{field}" not in NOT_IN_HASH:
                    data[f"{section}.{field}"] = everything[section][field]
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a dict."""
    try:
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, not a config file")
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
    except (OSError, ValueError) as exc:  # a NUL in the name, a name too long
        raise ConfigError(f"{path}: cannot read config file ({exc})") from exc
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot read config file: {first}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config file must hold a mapping of sections")
    return translate(data, str(path))  # Person From Vid's names are read as ours


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``PERSONFRAMES_<SECTION>__<FIELD>=value`` as a nested dict of strings.

    ``PERSONFRAMES_CACHE_DIR`` is a documented shortcut for models.cache_dir.
    """
    environ = os.environ if environ is None else environ
    result: dict[str, Any] = {}
    sections = set(Config.model_fields)
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        rest = key[len(ENV_PREFIX) :].lower()
        if rest == "cache_dir":
            result.setdefault("models", {}).setdefault("cache_dir", value)
            continue
        if "__" not in rest:
            continue
        section, name = rest.split("__", 1)
        if section not in sections:
            raise ConfigError(
                f"{key}: unknown section {section!r} (known: {', '.join(sorted(sections))})"
            )
        result.setdefault(section, {})[name] = value
    return result


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return printable(f"invalid configuration {where} ({source}): {message}")


def load_config(
    config_file: Path | None = None,
    cli: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Merge defaults < file < environment < CLI into a validated Config."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file is not None:
        layers.append((str(config_file), read_config_file(config_file)))
    layers.append(("environment", env_overrides(environ)))
    layers.append(("command line", cli or {}))
    merged: dict[str, Any] = {}
    for source, layer in layers:
        merged = _deep_merge(merged, layer)
        try:  # validate each layer as it lands so the error names its source
            Config.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, source)) from None
    return Config.model_validate(merged)
