"""Every fallback both warns and counts: one enum, a counter for each member."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, TypeVar

import pytest

from personframes.detect._onnxruntime import ort
from personframes.pipeline.context import FallbackWarnings
from personframes.pipeline.fallbacks import (
    COUNTERS,
    GROUPS,
    REASONS,
    Fallback,
    count_fallbacks,
    group_of,
)
from personframes.state.records import Record, ScanFrame, ScanInfo, WriteItem

from .util import VIDEOS, run_cli

R = TypeVar("R", bound=Record)

PERSON = {
    "head": {
        "direction": "front",
        "yaw": 1.0,
        "pitch": None,
        "roll": None,
        "method": "keypoints",
        "reason": "r",
    },
    "pose": {"class": "unknown", "reason": "r", "method": "2d"},
    "shot": {"type": "closeup", "reason": "r"},
    "body_box": None,
    "face_quality": {"sharpness": 1.0, "brightness": 1.0, "contrast": 1.0, "noise": 1.0},
    "signature": [0.5],
}
FACE = {"box": [0, 0, 10, 10], "score": 0.9, "keypoints": {}, "detector": "centerface"}
QUALITY = {"sharpness": 1.0, "brightness": 1.0, "contrast": 1.0, "noise": 1.0}
VIDEO = {
    "path": "clip.mp4",
    "width": 640,
    "height": 360,
    "rotation": 0,
    "duration_s": 1.0,
    "frame_rate": 30.0,
    "frame_count": 30,
    "codec": "h264",
}
SCORES = {
    "overall": 0.5,
    "sharpness": 0.5,
    "exposure": 0.5,
    "contrast": 0.5,
    "noise": 0.5,
    "sharpness_laplacian_var": 100.0,
}
RESTORED = {  # a face the model restored (the record's every field)
    "model": "realesrgan-x4plus-pth",
    "restored": True,
    "policy": "auto",
    "decision": "restore",
    "reason": "light touch",
    "face_px": 74.0,
    "face_px_estimated": False,
    "factor": 3.5,
    "blur": 0.66,
    "strength": 0.25,
    "model_input": [116, 148],
    "departure_db": 44.4,
    "device": "cpu",
    "engine": "torch",
    "precision": "fp32",
    "fell_back": False,
    "identity_distance": 0.09,
    "identity_drift": False,
}


def _stored(model: type[R], data: dict[str, Any]) -> R:
    """A record as the state store reads it back (from JSON)."""
    return model.model_validate_json(json.dumps(data))


def test_every_member_is_counted_and_has_a_reason() -> None:
    assert set(COUNTERS) == set(Fallback) == set(GROUPS)
    own = {Fallback.FACE_RESTORATION, Fallback.DEVICE, Fallback.PRECISION}
    assert set(REASONS) == set(Fallback) - own


def test_counts_come_from_the_stored_records_in_member_order() -> None:
    info = _stored(
        ScanInfo,
        {
            "video": VIDEO,
            "frames_decoded": 3,
            "sampled": 3,
            "candidates": 1,
            "duplicates_removed": 0,
            "shot_cuts": [],
            "keyframe_times": [],
            "frames_without_pts": 2,
            "device_fallbacks": ["centerface: GPU requested but no CUDA; running on the CPU"],
            "identity_unavailable": "face identity needs dlib",
        },
    )
    frame = _stored(
        ScanFrame,
        {
            "index": 0,
            "time_s": 0.0,
            "keyframe": True,
            "dhash": "0" * 16,
            "reason": "interval",
            "faces": [FACE],
            "quality": QUALITY,
            "people": [PERSON],
        },
    )
    item = {
        "kind": "face",
        "file": "a.jpg",
        "frame_index": 0,
        "face": 0,
        "person_id": 1,
        "pose": "unknown",
        "head_direction": "front",
        "shot_type": "closeup",
        "rank": 1,
        "quality": SCORES,
        "reason": "r",
        "seq": 0,
        "size": [1, 1],
    }
    written = [
        _stored(
            WriteItem,
            {
                **item,
                "restoration": {
                    **RESTORED,
                    "restored": False,
                    "fell_back": True,
                    "reason": "out of memory",
                },
                "body_box_estimated": True,
                "reread_from_start": True,
            },
        ),
        _stored(
            WriteItem,
            {
                **item,
                "file": "b.jpg",
                "restoration": {
                    **RESTORED,
                    "device_fallback": "CUDA out of memory; the model moved to the CPU",
                },
            },
        ),
    ]
    assert count_fallbacks(info, [frame], written) == {
        "face restoration: out of memory": 1,
        f"body crop: {REASONS[Fallback.BODY_CROP]}": 1,
        f"head pose: {REASONS[Fallback.HEAD_POSE]}": 1,
        f"body pose: {REASONS[Fallback.BODY_POSE_2D]}": 1,
        # without the identity model, each face turned toward the camera (yaw 1)
        f"face identity: {REASONS[Fallback.FACE_IDENTITY]}": 1,
        f"frame seeking: {REASONS[Fallback.FRAME_SEEKING]}": 1,
        f"video timestamps: {REASONS[Fallback.VIDEO_TIMESTAMPS]}": 2,
        "device: centerface: GPU requested but no CUDA; running on the CPU": 1,
        "device: realesrgan-x4plus-pth: CUDA out of memory; the model moved to the CPU": 1,
    }
    groups = [group_of(key) for key in count_fallbacks(info, [frame], written)]
    assert groups == ["restoration", *["analysis"] * 4, "decoding", "decoding"] + ["device"] * 2


def test_a_fallback_is_warned_once_per_reason(caplog: pytest.LogCaptureFixture) -> None:
    warnings = FallbackWarnings("clip.mp4")
    with caplog.at_level(logging.WARNING, logger="personframes"):
        for _ in range(3):
            warnings.warn(Fallback.HEAD_POSE)
        warnings.warn(Fallback.FACE_RESTORATION, "out of memory", "x4plus -> Lanczos")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"fallback in clip.mp4: head pose: {REASONS[Fallback.HEAD_POSE]}",
        "fallback in clip.mp4: face restoration (x4plus -> Lanczos): out of memory",
    ]


@pytest.mark.slow
def test_gpu_asked_for_on_a_machine_without_one_is_a_counted_fallback(tmp_path: Path) -> None:
    """Real: this machine has no CUDA and no Vulkan GPU, so ``--device gpu`` runs the
    detector and the restoration model on the CPU; each says so once, and is counted."""
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has a CUDA GPU")
    out = tmp_path / "out"
    result = run_cli(
        "extract",
        str(VIDEOS / "sitting_window.mp4"),
        "-o",
        str(out),
        "--max-frames",
        "3",
        "--device",
        "gpu",
    )
    assert result.returncode == 0, result.stderr
    warnings = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("personframes: WARNING:") and "GPU requested" in line
    ]
    assert len(warnings) == 2, result.stderr  # the detector's and the model's, once each
    info = json.loads((out / "sitting_window_info.json").read_text())
    fallbacks = info["summary"]["fallbacks"]
    device = {k: v for k, v in fallbacks.items() if k.startswith("device: ")}
    assert any(k.startswith("device: centerface: GPU requested") for k in device), fallbacks
    restored = sum(1 for f in info["outputs"] if (f.get("restoration") or {}).get("restored"))
    on_cpu = sum(v for k, v in device.items() if k.startswith("device: realesr"))
    assert on_cpu == restored
