"""Exports for the trainers (issue 30, item 2): ``--format musubi`` and ``--format
aitoolkit`` write the clips with their captions and the trainer's dataset config, the
kohya layout its ``dataset_config.toml``; image layouts leave clips out, jsonl takes them.

On copies of the session's real extract (review_util), with clip entries added as the
clips step writes them: real H.264 files encoded by PyAV, a caption beside each, the
entry appended to the video's info.json. Each config is parsed (tomllib, yaml.safe_load)
and held to the keys the trainer's own code accepts, transcribed below from its source.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import av
import pytest
import tomllib
import yaml

from personframes.state.review import ReviewStore

from .review_util import BackgroundExtract
from .util import make_video, moving_square_frames, run_cli

pytestmark = pytest.mark.slow  # each needs the session's extract

VIDEO = "stage_performer"
MANIFEST = f"{VIDEO}_info.json"

# musubi-tuner, src/musubi_tuner/dataset/config_utils.py (ConfigSanitizer, commit
# 30c658c4; documented in docs/dataset_config.md): the keys a voluptuous Schema accepts,
# no others, per section and kind of dataset.
MUSUBI_COMMON = {
    "caption_extension": str,
    "batch_size": int,
    "num_repeats": int,
    "resolution": list,  # [W, H] (or one int)
    "enable_bucket": bool,
    "bucket_no_upscale": bool,
}
MUSUBI_IMAGE = MUSUBI_COMMON | {
    "image_directory": str,
    "image_jsonl_file": str,
    "cache_directory": str,
    "control_directory": str,
    "multiple_target": bool,
    "fp_latent_window_size": int,
    "fp_1f_clean_indices": list,
    "fp_1f_target_index": int,
    "fp_1f_no_post": bool,
    "no_resize_control": bool,
    "control_resolution": list,
}
MUSUBI_VIDEO = MUSUBI_COMMON | {
    "video_directory": str,
    "video_jsonl_file": str,
    "control_directory": str,
    "target_frames": list,
    "frame_extraction": str,
    "frame_stride": int,
    "frame_sample": int,
    "max_frames": int,
    "cache_directory": str,
    "source_fps": float,
    "fp_latent_window_size": int,
}
# docs/dataset_config.md, "frame_extraction Options".
MUSUBI_EXTRACTIONS = {"head", "chunk", "slide", "uniform", "full"}

# kohya-ss/sd-scripts, library/config_util.py (ConfigSanitizer, commit 48d368fa;
# documented in docs/config_README-en.md), DreamBooth-style datasets.
KOHYA_DATASET = {
    "batch_size": int,
    "bucket_no_upscale": bool,
    "bucket_reso_steps": int,
    "enable_bucket": bool,
    "max_bucket_reso": int,
    "min_bucket_reso": int,
    "resolution": (int, list),
    "network_multiplier": float,
    "resize_interpolation": str,
}
KOHYA_SUBSET = {
    "color_aug": bool,
    "flip_aug": bool,
    "num_repeats": int,
    "random_crop": bool,
    "shuffle_caption": bool,
    "keep_tokens": int,
    "caption_prefix": str,
    "caption_suffix": str,
    "caption_extension": str,
    "class_tokens": str,
    "cache_info": bool,
}
KOHYA_SUBSET_ONLY = {"image_dir": str, "is_reg": bool, "alpha_mask": bool}

# ostris/ai-toolkit, toolkit/config_modules.py (DatasetConfig, commit 27a03a91; the
# datasets block of config/examples/train_lora_wan21_14b_24gb.yaml): the keys it reads
# that this export may write, with their types.
AITOOLKIT_DATASET = {
    "folder_path": str,
    "caption_ext": str,
    "resolution": list,
    "num_frames": int,
    "shrink_video_to_frames": bool,
    "fps": int,
    "cache_latents_to_disk": bool,
    "caption_dropout_rate": float,
    "num_repeats": int,
    "trigger_word": str,
}


@pytest.fixture
def out(stage_extract: BackgroundExtract, tmp_path: Path) -> Path:
    return stage_extract.copy(tmp_path / "out")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_clip(out: Path, name: str, person_id: int, frames: int, size: tuple[int, int]) -> str:
    """A clip as the clips step writes it: the .mp4 (H.264, 16 fps), its caption, and its
    entry appended to the video's info.json (written through a temporary name)."""
    width, height = size
    make_video(out / name, moving_square_frames(frames, width, height), rate=16)
    caption = name.replace(".mp4", ".txt")
    (out / caption).write_text("person, standing, front, medium shot\n")
    entry = {
        "file": name,
        "kind": "clip",
        "person_id": person_id,
        "start_s": 2.0,
        "end_s": 2.0 + frames / 16,
        "frames": frames,
        "fps": 16,
        "size": [width, height],
        "pose": "standing",
        "head_direction": "front",
        "shot_type": "medium_shot",
        "caption": caption,
        "quality": {"overall": 0.8},
        "selection": {"rank": 1, "reason": "test clip"},
    }
    path = out / MANIFEST
    document = json.loads(path.read_text())
    document["outputs"].append(entry)
    temp = path.with_name(f".tmp-{path.name}")
    temp.write_text(json.dumps(document, indent=2))
    os.replace(temp, path)
    return name


def clips_and_decisions(out: Path) -> dict[str, list[str]]:
    """Four clips of two people (17 and 9 frames): two accepted, one left unreviewed, one
    rejected; and two accepted images. The file names by decision."""
    images = [o for o in json.loads((out / MANIFEST).read_text())["outputs"]]
    a, b = sorted({int(o["person_id"]) for o in images})[:2]
    accepted = [
        add_clip(out, f"{VIDEO}_clip_p{a}_001.mp4", a, 17, (64, 96)),
        add_clip(out, f"{VIDEO}_clip_p{a}_002.mp4", a, 9, (96, 48)),
    ]
    unreviewed = add_clip(out, f"{VIDEO}_clip_p{b}_001.mp4", b, 17, (128, 96))
    rejected = add_clip(out, f"{VIDEO}_clip_p{b}_002.mp4", b, 5, (64, 64))
    accepted_images = [str(images[0]["file"]), str(images[-1]["file"])]
    with ReviewStore(out) as store:
        for path in accepted + accepted_images:
            store.decide(path, "accepted")
        store.decide(rejected, "rejected")
        store.rename(f"{VIDEO}:{a}", "Ada")
    return {
        "accepted": accepted,
        "unreviewed": [unreviewed],
        "rejected": [rejected],
        "images": accepted_images,
    }


def export(out: Path, dest: Path, *extra: str) -> str:
    done = run_cli("export", str(out), str(dest), *extra)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def hold_to(values: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    """Every key one the trainer accepts, of the type it checks."""
    unknown = set(values) - set(schema)
    assert not unknown, f"{where}: keys the trainer refuses: {sorted(unknown)}"
    for key, value in values.items():
        expected = schema[key]
        assert isinstance(value, expected), (where, key, value)
        assert not (isinstance(value, bool) and expected in (int, float)), (where, key)


def media_with_captions(folder: Path, suffix: str) -> list[str]:
    """The files of ``folder`` with ``suffix``, each with its caption beside it."""
    found = sorted(p.name for p in folder.iterdir() if p.suffix == suffix)
    for name in found:
        caption = (folder / name).with_suffix(".txt")
        assert caption.is_file(), f"no caption beside {name}"
        assert caption.read_text().strip()
    return found


def frames_of(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_musubi_writes_the_accepted_clips_and_a_config_musubi_tuner_reads(
    out: Path, tmp_path: Path
) -> None:
    chosen = clips_and_decisions(out)
    dest = tmp_path / "musubi"
    said = export(out, dest, "--format", "musubi")
    assert "2 clips of 1 person as musubi" in said
    assert "2 images (--with-images takes them)" in said and "1 rejected" in said
    config = tomllib.loads((dest / "dataset_config.toml").read_text())
    assert set(config) == {"general", "datasets"}
    hold_to(config["general"], MUSUBI_COMMON, "[general]")
    assert config["general"]["caption_extension"] == ".txt"
    (videos,) = config["datasets"]
    hold_to(videos, MUSUBI_VIDEO, "video dataset")
    # 4n+1 frame counts, those of the clips present (the rejected 5-frame one is not).
    assert videos["target_frames"] == [9, 17]
    assert all(n % 4 == 1 for n in videos["target_frames"])
    assert videos["frame_extraction"] in MUSUBI_EXTRACTIONS
    assert videos["frame_extraction"] == "head"
    assert videos["resolution"] == [64, 96]  # the largest accepted clip, [W, H]
    # Absolute paths (musubi opens them from its working directory), inside the export.
    folder = Path(videos["video_directory"])
    assert folder.is_absolute() and folder.is_dir() and folder.parent == dest.resolve()
    assert media_with_captions(folder, ".mp4") == sorted(chosen["accepted"])
    for name in chosen["accepted"]:
        assert sha256(folder / name) == sha256(out / name)
    assert frames_of(folder / chosen["accepted"][0]) == 17
    caption = (folder / chosen["accepted"][0]).with_suffix(".txt").read_text()
    assert caption == "Ada, standing, front, medium shot\n"
    assert not list(dest.rglob("*.jpg"))
    first = sha256(dest / "dataset_config.toml")
    assert "0 files written" in export(out, dest, "--format", "musubi")
    assert sha256(dest / "dataset_config.toml") == first

    # The images too, in a dataset of their own, with its own cache.
    export(out, dest, "--format", "musubi", "--with-images")
    config = tomllib.loads((dest / "dataset_config.toml").read_text())
    (images,) = [d for d in config["datasets"] if "image_directory" in d]
    (videos,) = [d for d in config["datasets"] if "video_directory" in d]
    hold_to(images, MUSUBI_IMAGE, "image dataset")
    hold_to(videos, MUSUBI_VIDEO, "video dataset")
    caches = [d["cache_directory"] for d in config["datasets"]]
    assert len(set(caches)) == len(caches) == 2  # musubi refuses a shared one
    assert all(Path(c).is_absolute() and Path(c).parent.parent == dest.resolve() for c in caches)
    assert not set(caches) & {images["image_directory"], videos["video_directory"]}
    image_folder = Path(images["image_directory"])
    assert image_folder.parent == dest.resolve()
    assert media_with_captions(image_folder, ".jpg") == sorted(
        Path(i).name for i in chosen["images"]
    )
    # All but the rejected clips (and no images: the rerun removes them).
    export(out, dest, "--format", "musubi", "--include", "unreviewed")
    config = tomllib.loads((dest / "dataset_config.toml").read_text())
    (videos,) = config["datasets"]
    assert videos["resolution"] == [128, 96] == config["general"]["resolution"]
    clips = media_with_captions(Path(videos["video_directory"]), ".mp4")
    assert clips == sorted(chosen["accepted"] + chosen["unreviewed"])
    assert not image_folder.exists()


def test_aitoolkit_writes_a_folder_per_frame_count_and_its_datasets_yaml(
    out: Path, tmp_path: Path
) -> None:
    chosen = clips_and_decisions(out)
    dest = tmp_path / "aitoolkit"
    export(out, dest, "--format", "aitoolkit", "--with-images")
    document = yaml.safe_load((dest / "ai-toolkit-datasets.yaml").read_text())
    assert set(document) == {"datasets"}
    datasets = document["datasets"]
    clips_seen: list[str] = []
    for dataset in datasets:
        hold_to(dataset, AITOOLKIT_DATASET, dataset["folder_path"])
        folder = Path(dataset["folder_path"])
        assert folder.is_absolute() and folder.is_dir() and folder.parent == dest.resolve()
        assert dataset["caption_ext"] == "txt"  # ai-toolkit adds the dot
        assert all(isinstance(r, int) and r > 0 for r in dataset["resolution"])
        if "num_frames" in dataset:  # a folder of clips, all of that many frames
            clips = media_with_captions(folder, ".mp4")
            assert {frames_of(folder / c) for c in clips} == {dataset["num_frames"]}
            assert dataset["num_frames"] % 4 == 1
            assert not list(folder.glob("*.jpg"))
            clips_seen += clips
        else:
            images = media_with_captions(folder, ".jpg")
            assert images == sorted(Path(i).name for i in chosen["images"])
            assert not list(folder.glob("*.mp4"))
    assert sorted(clips_seen) == sorted(chosen["accepted"])
    assert sorted(d["num_frames"] for d in datasets if "num_frames" in d) == [9, 17]
    # ai-toolkit walks a folder and its subfolders: no dataset's folder holds another's.
    paths = [Path(d["folder_path"]) for d in datasets]
    assert all(a == b or not b.is_relative_to(a) for a in paths for b in paths)
    # One trigger for every caption (a LoRA of one person), as kohya's one folder.
    single = tmp_path / "single"
    export(out, single, "--format", "aitoolkit", "--group-by", "none", "--trigger", "p3r5on")
    captions = list(single.rglob("*.txt"))
    assert len(captions) == len(chosen["accepted"])
    assert all(c.read_text().startswith("p3r5on, ") for c in captions)


def test_kohya_gets_its_dataset_config_and_image_layouts_leave_clips_out(
    out: Path, tmp_path: Path
) -> None:
    chosen = clips_and_decisions(out)
    dest = tmp_path / "kohya"
    said = export(out, dest, "--repeats", "3")
    assert "2 clips (not for this layout)" in said and "2 images of" in said
    assert not list(dest.rglob("*.mp4"))
    config = tomllib.loads((dest / "dataset_config.toml").read_text())
    assert set(config) == {"general", "datasets"}
    hold_to(config["general"], KOHYA_DATASET | KOHYA_SUBSET, "[general]")
    (dataset,) = config["datasets"]
    subsets = dataset.pop("subsets")
    hold_to(dataset, KOHYA_DATASET, "[[datasets]]")
    folders = sorted(p for p in dest.iterdir() if p.is_dir())
    assert sorted(Path(s["image_dir"]) for s in subsets) == [f.resolve() for f in folders]
    for subset in subsets:
        hold_to(subset, KOHYA_SUBSET | KOHYA_SUBSET_ONLY, "[[datasets.subsets]]")
        folder = Path(subset["image_dir"])
        assert folder.is_absolute() and folder.parent == dest.resolve()
        # kohya's folder name is REPEATS_CLASS TOKENS: the subset says the same.
        assert folder.name == f"{subset['num_repeats']}_{subset['class_tokens']}"
        assert subset["num_repeats"] == 3 and subset["class_tokens"].endswith(" person")
        media_with_captions(folder, ".jpg")  # images directly in image_dir, captioned
    found = sorted(p.name for p in dest.rglob("*.jpg"))
    assert found == sorted(Path(i).name for i in chosen["images"])

    said = export(out, tmp_path / "hf", "--format", "imagefolder")
    assert "2 clips (not for this layout)" in said
    lines = (tmp_path / "hf" / "metadata.jsonl").read_text().splitlines()
    assert all(json.loads(line)["kind"] != "clip" for line in lines)


def test_jsonl_takes_clips_and_kind_clip_picks_them(out: Path, tmp_path: Path) -> None:
    chosen = clips_and_decisions(out)
    # A clip entry without the facts of one (a frame count not 4n+1) is left out, counted.
    add_clip(out, f"{VIDEO}_clip_p1_009.mp4", 1, 16, (64, 64))
    with ReviewStore(out) as store:
        store.decide(f"{VIDEO}_clip_p1_009.mp4", "accepted")
    dest = tmp_path / "jsonl"
    said = export(out, dest, "--format", "jsonl", "--kind", "clip", "--bucket", "64")
    assert "1 clips with a bad entry" in said
    lines = [json.loads(x) for x in (dest / "dataset.jsonl").read_text().splitlines()]
    assert sorted(line["file"] for line in lines) == sorted(chosen["accepted"])
    assert all(line["kind"] == "clip" and line["frames"] % 4 == 1 for line in lines)
    for line in lines:  # clips are copied whole, never cut by --bucket
        assert sha256(dest / line["file"]) == sha256(out / line["source_file"])
    # Only clips asked of a layout that takes none: one clear line, exit 2.
    done = run_cli("export", str(out), str(tmp_path / "none"), "--kind", "clip")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not for this layout" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "none").exists()
    done = run_cli(
        "export",
        str(out),
        str(tmp_path / "m"),
        "--format",
        "musubi",
        "--kind",
        "face",
        "--include",
        "unreviewed",
    )
    assert done.returncode == 2 and "--with-images" in done.stderr
