"""extract --clips on the shared videos: clips within one shot, following the person,
4n+1 frames with sides of 16, decodable, listed in info.json with a caption beside
each; and the planning, smoothing and resampling they are made of."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from personframes.analyze.box_path import jitter, smooth
from personframes.analyze.clip_plan import Sighting, plan_clips
from personframes.video.decode import VideoReader
from personframes.video.resample import frames_at

from .util import VIDEOS, labels, make_video, moving_square_frames, run_cli

# Found from frame differences by whoever labelled the video (labels/README.md), not by us.
STAGE_CUTS = (20, 82, 211)


def _extract(video: str, out: Path, *extra: str) -> dict[str, Any]:
    result = run_cli(
        "extract", str(VIDEOS / video), "-o", str(out), "--clips", "--no-face-restoration", "-q",
        *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads((out / f"{Path(video).stem}_info.json").read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _clips(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in info["outputs"] if e["kind"] == "clip"]


@pytest.fixture(scope="module")
def stage(
    stage_clips_extract: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A copy of the session's extract of stage_performer with clips (conftest): the
    tests here extract into it again."""
    out = tmp_path_factory.mktemp("clips_stage") / "out"
    shutil.copytree(stage_clips_extract, out, symlinks=True)
    return out, json.loads((out / "stage_performer_info.json").read_text())


@pytest.fixture(scope="module")
def sitting(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("clips_sitting")
    return out, _extract("sitting_window.mp4", out, "--clip-crop", "person")


def _decoded(path: Path) -> tuple[int, int, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.width, stream.height, float(stream.average_rate or 0)


def _check_clips(out: Path, info: dict[str, Any]) -> list[dict[str, Any]]:
    clips = _clips(info)
    assert clips, "no clip made"
    on_disk = sorted(p.name for p in out.glob("*.mp4"))
    assert on_disk == sorted(c["file"] for c in clips)
    for clip in clips:
        frames, width, height, fps = _decoded(out / clip["file"])
        assert frames == clip["frames"] and frames % 4 == 1, clip["file"]
        assert [width, height] == clip["size"] and width % 16 == 0 and height % 16 == 0
        assert fps == clip["fps"] == 16.0  # the wan preset
        assert frames >= 17 and frames <= 81
        assert len(clip["crop_boxes_xywh"]) == frames
        caption = (out / clip["caption"]).read_text()
        assert caption.endswith("\n") and clip["shot_type"].replace("_", " ") in caption
        assert clip["end_s"] == pytest.approx(clip["start_s"] + (frames - 1) / 16, abs=1e-5)
    assert info["summary"]["clips"] == len(clips)
    left_out = info["summary"]["clips_left_out"]  # planned clips not made, counted by why
    assert set(left_out) == {"too_soft", "lost", "no_face", "too_small"}
    assert info["config"]["clips"]["enabled"] is True
    return clips


def test_stage_performer_clips_never_span_a_cut(stage: tuple[Path, dict[str, Any]]) -> None:
    out, info = stage
    clips = _check_clips(out, info)
    # the people of the clips are the images' people, by the same ids
    images = {e["person_id"] for e in info["outputs"] if e["kind"] != "clip"}
    assert {c["person_id"] for c in clips} <= images
    for clip in clips:
        first, last = clip["frame_indices"]
        assert not [c for c in STAGE_CUTS if first < c <= last], (clip["file"], first, last)
        assert not [c for c in info["summary"]["shot_cuts"] if first < c <= last]
    # the performer's shot (frames 82-210) is long enough for a clip of the most frames
    # that fit in it, and the whole-frame clips of two people never overlap in time
    spans = sorted((c["start_s"], c["end_s"]) for c in clips)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))


def test_sitting_window_clips_follow_the_woman(sitting: tuple[Path, dict[str, Any]]) -> None:
    out, info = sitting
    clips = _check_clips(out, info)
    assert len({c["person_id"] for c in clips}) == 1  # one person in this video
    checked = 0
    for row in labels("sitting_window"):
        if not row["face_box"]:
            continue
        x, y, w, h = (float(v) for v in row["face_box"].split(","))
        time_s = float(row["time_s"])
        for clip in clips:
            if not clip["start_s"] <= time_s <= clip["end_s"]:
                continue
            k = round((time_s - clip["start_s"]) * clip["fps"])
            bx, by, bw, bh = clip["crop_boxes_xywh"][k]
            # the labelled face is inside the crop that follows her (person crops: the
            # whole body, so the face with room to spare)
            assert bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh, (clip["file"], k)
            assert bw >= w and bh >= h
            checked += 1
    assert checked >= 10
    for clip in clips:  # one size per clip, and the box moves smoothly
        assert len({(b[2], b[3]) for b in clip["crop_boxes_xywh"]}) == 1
        assert clip["jitter_px"]["smoothed"] < clip["jitter_px"]["raw"]


def test_a_rerun_keeps_the_clips_and_a_new_framing_redoes_only_them(
    stage: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, info = stage
    before = {
        c["file"]: hashlib.sha256((out / c["file"]).read_bytes()).hexdigest() for c in _clips(info)
    }
    again = _extract("stage_performer.mp4", out)
    assert {c["file"] for c in _clips(again)} == set(before)
    for name, digest in before.items():
        assert _sha(out / name) == digest
    faces = _extract("stage_performer.mp4", out, "--clip-crop", "face", "--clip-preset", "hunyuan")
    clips = _clips(faces)
    assert clips and all(c["fps"] == 24.0 and c["frames"] % 4 == 1 for c in clips)
    for clip in clips:
        frames, width, height, _ = _decoded(out / clip["file"])
        assert frames == clip["frames"] and width % 16 == 0 and height % 16 == 0
        assert (width, height) != (640, 352)  # a head, not the whole frame
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted(c["file"] for c in clips)


def test_clips_off_leave_info_json_without_them(tmp_path: Path) -> None:
    """Without --clips nothing of them appears (the manifest of earlier versions)."""
    from personframes.config import load_config
    from personframes.pipeline.steps.manifest import manifest_config

    assert "clips" not in manifest_config(load_config())
    assert "clips" in manifest_config(load_config(cli={"clips": {"enabled": True}}))


def test_a_bad_frame_count_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "extract", str(VIDEOS / "stage_performer.mp4"), "-o", str(tmp_path), "--clips",
        "--clip-frames", "80",
    )  # fmt: skip
    assert result.returncode == 2
    assert "4n+1" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_frames_are_taken_by_timestamp_in_a_variable_frame_rate_video(tmp_path: Path) -> None:
    # frames at uneven times: 0, 0.1, 0.15, 0.5, 0.55, 1.0 s
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 1.0]
    video = make_video(tmp_path / "vfr.mp4", moving_square_frames(len(times)), times=times)
    wanted = [k / 8 for k in range(9)]  # 8 fps over one second
    with VideoReader(video) as reader:
        shown = [(s.index, s.time_s) for s in frames_at(reader, wanted)]
    # the frame on screen at each time: the last one whose timestamp is not after it
    expected = [max(i for i, t in enumerate(times) if t <= w + 1e-9) for w in wanted]
    assert [index for index, _ in shown] == expected
    assert expected != [round(w * 5) for w in wanted]  # not what counting frames gives


def _sighting(person: int, time_s: float, shot: int, sharp: float = 100.0) -> Sighting:
    from personframes.types import Box

    return Sighting(
        person, round(time_s * 30), time_s, shot, Box(0, 0, 10, 10), None, 0.5, sharp,
        "standing", "front", "medium_shot",
    )  # fmt: skip


def test_planning_keeps_each_clip_in_one_shot_and_at_most_n() -> None:
    # one person sampled every 0.25 s for 12 s, a cut at 6 s; another person, soft
    sampled = [(k / 4, 0 if k / 4 < 6 else 1) for k in range(48)]
    people = [_sighting(1, t, shot) for t, shot in sampled]
    people += [_sighting(2, t, shot, sharp=3.0) for t, shot in sampled[:20]]
    windows, soft = plan_clips(
        people, sampled, fps=16, most=33, fewest=17, per_person=3, min_sharpness=10,
        exclusive=False,
    )  # fmt: skip
    assert soft > 0 and {w.person_id for w in windows} == {1}
    assert len(windows) == 3
    for w in windows:
        assert w.frames % 4 == 1 and 17 <= w.frames <= 33
        assert len({s.shot for s in w.sightings}) == 1
        assert not (w.start_s < 6 <= w.end_s)
    spans = sorted((w.start_s, w.end_s) for w in windows)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))


def test_smoothing_removes_shake_not_motion() -> None:
    rng = np.random.default_rng(1)
    moving = np.linspace(0, 200, 81)[:, None]  # a steady pan: no jitter at all
    assert jitter(moving) == pytest.approx(0, abs=1e-9)
    shaky = moving + rng.normal(0, 4, moving.shape)
    smoothed = smooth(shaky, 1.6)
    assert jitter(smoothed) < jitter(shaky) / 4
    assert np.abs(smoothed - moving).max() < 8  # it still follows the pan, without lag


def test_real_clips_export_for_musubi(stage: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    import tomllib

    out, _ = stage
    info = json.loads((out / "stage_performer_info.json").read_text())  # as a test left it
    dest = tmp_path / "musubi"
    result = run_cli("export", str(out), str(dest), "--format", "musubi", "--include", "unreviewed")
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((dest / "dataset_config.toml").read_text())
    (videos,) = [d for d in config["datasets"] if "video_directory" in d]
    folder = Path(videos["video_directory"])
    clips = sorted(p.name for p in folder.glob("*.mp4"))
    assert clips == sorted(Path(c["file"]).name for c in _clips(info))
    assert sorted(videos["target_frames"]) == sorted({c["frames"] for c in _clips(info)})
    for name in clips:
        assert (folder / name).with_suffix(".txt").is_file()


def test_real_clips_export_for_diffusion_pipe(
    sitting: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Held to diffusion-pipe's examples/dataset.toml (commit 5145971): its top-level
    keys, frame buckets that every clip fills exactly, a [[directory]] per folder."""
    import tomllib

    out, info = sitting
    dest = tmp_path / "dp"
    result = run_cli(
        "export", str(out), str(dest), "--format", "diffusion-pipe", "--include",
        "unreviewed", "--with-images",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((dest / "dataset.toml").read_text())
    known = {"resolutions", "enable_ar_bucket", "min_ar", "max_ar", "num_ar_buckets"}
    assert set(config) == known | {"frame_buckets", "directory"}
    clips = _clips(info)
    assert config["frame_buckets"] == sorted({1, *(c["frames"] for c in clips)})
    ratios = [c["size"][0] / c["size"][1] for c in clips]
    assert config["min_ar"] <= min(ratios) and config["max_ar"] >= max(ratios)
    folders = {Path(d["path"]).name: Path(d["path"]) for d in config["directory"]}
    assert set(folders) == {"images", "videos"}
    assert all(d["num_repeats"] == 1 for d in config["directory"])
    videos = sorted(p.name for p in folders["videos"].glob("*.mp4"))
    assert videos == sorted(Path(c["file"]).name for c in clips)
    for media in [*folders["videos"].glob("*.mp4"), *folders["images"].glob("*.jpg")]:
        assert media.with_suffix(".txt").is_file()
