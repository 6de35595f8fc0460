"""The values inside the stored records are typed too (issue 29): the scanned video, a
selected person's quality scores, a face's restoration record and the summary's identity
check. Records written by the version before them still validate, and serialise to the
same JSON (info.json and the jsonl export are made from them, byte for byte)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from personframes.config import SelectionConfig
from personframes.output.naming import NO_FACE
from personframes.pipeline.fallbacks import count_fallbacks
from personframes.pipeline.selection import Candidate
from personframes.pipeline.steps.manifest import identity_summary
from personframes.pipeline.steps.select import no_face_crop
from personframes.state.records import (
    FaceScores,
    IdentitySummary,
    Record,
    RestorationRecord,
    RestoredEntry,
    RunSummary,
    ScanInfo,
    SelectItem,
    VideoRecord,
    WriteItem,
    check_video_records,
)

# Records as the version before typed values stored them: taken from the state.sqlite
# of `personframes extract sitting_window.mp4` (the write step's records of one restored
# face, one face the policy left to Lanczos, one full frame).
VIDEO = {
    "path": "/work/shared/data/videos/sitting_window.mp4",
    "width": 676,
    "height": 1280,
    "rotation": 0,
    "duration_s": 18.2,
    "frame_rate": 30.0,
    "frame_count": 546,
    "codec": "h264",
}
SCAN_INFO = {
    "video": VIDEO,
    "frames_decoded": 546,
    "sampled": 75,
    "candidates": 44,
    "duplicates_removed": 31,
    "shot_cuts": [],
    "keyframe_times": [0.0, 8.333333, 16.666667],
    "frames_without_pts": 0,
    "device_fallbacks": [],
    "identity_unavailable": None,
}
SCORES = {
    "overall": 0.7929,
    "sharpness": 0.825,
    "exposure": 0.7768,
    "contrast": 0.6021,
    "noise": 0.9349,
    "sharpness_laplacian_var": 400.53,
}
SELECTED = {
    "kind": "face",
    "file": "sitting_window_face_front_001.jpg",
    "frame_index": 278,
    "face": 0,
    "person_id": 1,
    "pose": "sitting",
    "head_direction": "front",
    "shot_type": "full_body",
    "rank": 1,
    "quality": SCORES,
    "reason": "rank 1 in sitting/front for person 1: quality 0.79, face 74 px, t=9.27s",
    "seq": 1,
    "person_ids": None,
    "reference_distance": None,
    "person_reference_distance": None,
}
RESTORED = {
    "model": "realesr-animevideov3",
    "restored": True,
    "policy": "auto",
    "decision": "restore",
    "reason": "x3.46, blur 0.66, face 74 px: enlarged, not blurred: light touch",
    "face_px": 73.9,
    "face_px_estimated": False,
    "factor": 3.459,
    "blur": 0.6571,
    "strength": 0.25,
    "model_input": [116, 148],
    "departure_db": 44.39,
    "device": "cpu",
    "engine": "ncnn",
    "precision": "fp32",
    "fell_back": False,
    "identity_distance": 0.0936,
    "identity_drift": False,
}
LANCZOS = {
    "model": "realesrgan-x4plus",
    "restored": False,
    "policy": "auto",
    "decision": "lanczos",
    "reason": "x1.77, blur 0.61, face 143 px: enlarged, not blurred: light touch would "
    "apply, but the crop (290 px) is over the 256 px the model is worth here (cost): Lanczos",
    "face_px": 142.7,
    "face_px_estimated": False,
    "factor": 1.766,
    "blur": 0.613,
    "strength": 0.0,
    "model_input": None,
    "departure_db": None,
    "device": "none",
    "engine": None,
    "precision": None,
    "fell_back": False,
    "identity_distance": None,
    "identity_drift": False,
}
WRITTEN_FIELDS = {
    "size": [401, 512],
    "folder": None,
    "caption": None,
    "crop_box_xywh": [334, 512, 116, 148],
}
WRITTEN_TAIL = {"body_box_estimated": None, "reread_from_start": None}
WRITTEN_RESTORED = {
    **SELECTED,
    **WRITTEN_FIELDS,
    "restoration": RESTORED,
    "restored_key": "27619ff256b2a6b8364ecff5af4106b3",
    "before": "sitting_window_face_front_001.png",
    **WRITTEN_TAIL,
}
WRITTEN_LANCZOS = {**WRITTEN_RESTORED, "restoration": LANCZOS, "before": None}
WRITTEN_FRAME = {
    **SELECTED,
    "kind": "frame",
    **WRITTEN_FIELDS,
    "crop_box_xywh": None,
    "restoration": None,
    "restored_key": None,
    "before": None,
    **WRITTEN_TAIL,
}
RESTORED_ENTRY = {"key": "1ab39aa931adb7394c9235d420b2f78b", "record": RESTORED}
SUMMARY = {
    "frames_decoded": 546,
    "candidates": 44,
    "duplicates_removed": 31,
    "frames_with_faces": 33,
    "faces": 33,
    "files_written": 23,
    "outputs_by_kind": {"frame": 12, "face": 11},
    "selected_by_category": {"sitting/front": 2, "unknown/profile_left": 1},
    "restorations": 9,
    "restoration_decisions": {"restore": 9, "lanczos": 2},
    "restoration_identity": {"checked": 9, "median": 0.0712, "max": 0.1728, "drift": 0},
    "fallbacks": {"head pose: face mesh not confident (e.g. a profile)": 11},
    "shot_cuts": [],
    "people": 1,
    "candidates_unknown_head": 0,
    "selected": 12,
    "face_crops_too_small": 0,
    "face_crops_blurred": 0,
    "face_crops_turned_away": 0,
    "faceless_sightings": 4,
    "people_left_out": 0,
    "people_not_matching_reference": 0,
    "poses_carried": 1,
    "restoration_engines": {"ncnn fp32": 9},
}


def _stored(data: dict[str, Any]) -> str:
    """A record's JSON as the state database holds it."""
    return json.dumps(data, separators=(",", ":"))


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (ScanInfo, SCAN_INFO),
        (SelectItem, SELECTED),
        (WriteItem, WRITTEN_RESTORED),
        (WriteItem, WRITTEN_LANCZOS),
        (WriteItem, WRITTEN_FRAME),
        (RestoredEntry, RESTORED_ENTRY),
        (RunSummary, SUMMARY),
    ],
    ids=["scan", "select", "write-restored", "write-lanczos", "write-frame", "restored", "sum"],
)
def test_records_of_the_untyped_version_validate_and_serialise_unchanged(
    model: type[Record], data: dict[str, Any]
) -> None:
    record = model.model_validate_json(_stored(data))
    assert record.to_json() == _stored(data)  # the same bytes in the state database
    dumped = record.model_dump(by_alias=True, mode="json")  # as info.json is made from it
    assert json.dumps(dumped) == json.dumps(data)  # the same keys, order and numbers


def test_nested_values_are_typed_records() -> None:
    info = ScanInfo.model_validate_json(_stored(SCAN_INFO))
    assert isinstance(info.video, VideoRecord) and info.video.frame_count == 546
    written = WriteItem.model_validate_json(_stored(WRITTEN_RESTORED))
    assert isinstance(written.quality, FaceScores) and written.quality.overall == 0.7929
    assert isinstance(written.restoration, RestorationRecord)
    assert written.restoration.engine == "ncnn" and written.restoration.restored
    entry = RestoredEntry.model_validate_json(_stored(RESTORED_ENTRY))
    assert isinstance(entry.record, RestorationRecord) and entry.record == written.restoration
    summary = RunSummary.model_validate_json(_stored(SUMMARY))
    assert summary.restoration_identity == IdentitySummary(
        checked=9, median=0.0712, max=0.1728, drift=0
    )
    assert summary.restoration_engines == {"ncnn fp32": 9}


def test_a_summary_stored_before_the_identity_check_still_validates() -> None:
    older = {
        k: v for k, v in SUMMARY.items() if k not in ("restoration_identity", "restoration_engines")
    }
    summary = RunSummary.model_validate_json(_stored(older))
    assert summary.restoration_identity is None and summary.restoration_engines == {}


def test_fallbacks_are_shown_only_when_a_face_has_one() -> None:
    plain = RestorationRecord.model_validate(RESTORED)
    assert "device_fallback" not in plain.model_dump()
    assert "precision_fallback" not in plain.to_json()
    moved = RestorationRecord.model_validate(
        {**RESTORED, "device_fallback": "CUDA out of memory; the model moved to the CPU"}
    )
    assert list(moved.model_dump()) == [*RESTORED, "device_fallback"]
    assert RestorationRecord.model_validate_json(moved.to_json()) == moved


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("restoration", {"fell_back": True, "reason": "out of memory"}),  # keys missing
        ("restoration", {**RESTORED, "strength": "0.25"}),
        ("quality", {}),
    ],
)
def test_a_stored_record_whose_nested_value_does_not_fit_fails_the_state_check(
    field: str, value: dict[str, Any]
) -> None:
    row = ("write", "a.jpg", _stored({**WRITTEN_RESTORED, "file": "a.jpg", field: value}))
    problem = check_video_records([row], set())
    assert problem is not None and problem.startswith(f"record write/'a.jpg': {field}."), problem
    with pytest.raises(ValidationError):
        WriteItem.model_validate_json(row[2])


def test_a_scan_without_the_video_s_codec_fails_the_state_check() -> None:
    video = {k: v for k, v in VIDEO.items() if k != "codec"}
    row = ("scan", "~info", _stored({**SCAN_INFO, "video": video}))
    assert check_video_records([row], set()) == "record scan/'~info': video.codec: Field required"


def test_readers_take_the_typed_values() -> None:
    info = ScanInfo.model_validate_json(_stored(SCAN_INFO))
    written = [
        WriteItem.model_validate_json(_stored(WRITTEN_RESTORED)),
        WriteItem.model_validate_json(
            _stored(
                {
                    **WRITTEN_RESTORED,
                    "restoration": {
                        **RESTORED,
                        "restored": False,
                        "fell_back": True,
                        "reason": "out of memory",
                        "identity_distance": None,
                        "precision_fallback": "bf16 not supported here",
                    },
                }
            )
        ),
    ]
    assert count_fallbacks(info, [], written) == {
        "face restoration: out of memory": 1,
        "precision: realesr-animevideov3: bf16 not supported here": 1,
    }
    restorations = [w.restoration for w in written if w.restoration is not None]
    assert identity_summary(restorations) == IdentitySummary(
        checked=1, median=0.0936, max=0.0936, drift=0
    )


def _candidate(**changes: Any) -> Candidate:
    fields: dict[str, Any] = {
        "person_id": 1,
        "frame_index": 0,
        "time_s": 0.0,
        "pose": "standing",
        "head_direction": "front",
        "shot_type": "closeup",
        "quality": 0.5,
        "face_size": 100.0,
        "dhash": 0,
        "face_score": 0.9,
        "mesh_fit": True,
    }
    return Candidate(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "detail", "why"),
    [
        ({}, 400.0, None),
        ({"head_direction": NO_FACE}, 400.0, "faceless"),
        ({"mesh_fit": False, "face_score": 0.2}, 400.0, "turned_away"),
        ({"mesh_fit": False, "face_score": 0.6}, 400.0, None),  # a profile
        ({"face_size": 20.0}, 400.0, "too_small"),
        ({"face_size": 20.0, "mesh_fit": False, "face_score": 0.2}, 400.0, "turned_away"),
        ({}, 2.0, "blurred"),
        ({"face_size": 20.0}, 2.0, "too_small"),
    ],
)
def test_why_a_selected_face_gets_no_crop(
    changes: dict[str, Any], detail: float, why: str | None
) -> None:
    """The select step's face-crop filter, in the order it checks (the first reason
    counts): body alone, turned away, too small, too blurred."""
    assert no_face_crop(_candidate(**changes), detail, SelectionConfig()) == why
