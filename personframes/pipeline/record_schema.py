"""The shapes of the records the steps store, checked before a run trusts them.

A state database comes from a folder we did not necessarily write (copied, edited,
damaged): before any step reads it, every stored record is validated against these
models, and the references between them (a selected face must exist in its scanned
frame) are followed. A record that does not fit makes the database fail its check
(``StateStore.check``), so it is set aside instead of crashing a step halfway.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..output.naming import is_plain_file_name

Number = int | float  # the models are strict: no "1" for 1, no 1.5 for an int
Point = tuple[Number, Number]
Box4 = tuple[Number, Number, Number, Number]


def _plain_name(value: str) -> str:
    if not is_plain_file_name(value):
        raise ValueError(f"{value!r} is not a file name inside the output folder")
    return value


def _hex(digits: int, *default: None) -> Any:
    """A field of ``digits`` lower-case hex digits (optional when given a default)."""
    return Field(*default, pattern=f"^[0-9a-f]{{{digits}}}$")


FileName = Annotated[str, AfterValidator(_plain_name)]


class _Record(BaseModel):
    # Later versions may add fields; what this version reads must be there and typed.
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class FaceRecord(_Record):
    box: Box4
    score: Number
    keypoints: dict[str, Point]
    detector: str


class QualityRecord(_Record):
    sharpness: Number
    brightness: Number
    contrast: Number
    noise: Number


class HeadRecord(_Record):
    direction: str
    yaw: Number | None  # None: not measured
    pitch: Number | None
    roll: Number | None
    method: str
    reason: str


class PoseRecord(_Record):
    class_: str = Field(alias="class")
    reason: str


class ShotRecord(_Record):
    type: str
    reason: str


class PersonRecord(_Record):
    head: HeadRecord
    pose: PoseRecord
    shot: ShotRecord
    body_box: Box4 | None
    face_quality: QualityRecord
    signature: list[Number]


class ScanFrame(_Record):
    index: int = Field(ge=0)
    time_s: Number
    keyframe: bool
    dhash: str = _hex(16)
    reason: str
    faces: list[FaceRecord]
    quality: QualityRecord
    people: list[PersonRecord]

    @model_validator(mode="after")
    def _a_person_per_face(self) -> ScanFrame:
        if len(self.people) != len(self.faces):
            raise ValueError(f"{len(self.faces)} faces but {len(self.people)} people")
        return self


class ScanInfo(_Record):
    video: dict[str, Any]
    frames_decoded: int
    candidates: int
    duplicates_removed: int
    shot_cuts: list[int]
    keyframe_times: list[Number]
    frames_without_pts: int


class SelectInfo(_Record):
    shot_cuts: list[int]
    selected: int


class SelectItem(_Record):
    kind: Literal["frame", "face", "body"]
    file: FileName
    frame_index: int
    face: int = Field(ge=0)
    person_id: int
    pose: str
    head_direction: str
    shot_type: str
    rank: int
    quality: dict[str, Number]
    reason: str
    seq: int


class WriteItem(SelectItem):
    size: tuple[int, int]
    caption: FileName | None = None
    crop_box_xywh: tuple[int, int, int, int] | None = None
    restoration: dict[str, Any] | None = None
    restored_key: str | None = _hex(32, None)
    body_box_estimated: bool | None = None
    reread_from_start: bool | None = None


class RestoredEntry(_Record):
    key: str = _hex(32)
    record: dict[str, Any]


INFO_KEY = "~info"  # the scan's and the select step's summary record


def _model_for(step: str, key: str) -> type[_Record] | None:
    """The model a record of ``step`` stored under ``key`` must fit (None: a plain dict)."""
    if step == "scan":
        return ScanInfo if key == INFO_KEY else ScanFrame
    if step == "select":
        return SelectInfo if key == INFO_KEY else SelectItem
    if step == "write":
        return WriteItem
    if step == "restored":
        return RestoredEntry
    return None


def check_video_records(rows: Iterable[tuple[str, str, str]], done_steps: set[str]) -> str | None:
    """None when one video's records ``(step, key, json)`` fit their models and refer to
    each other correctly, else what is wrong. ``done_steps`` are the steps recorded as
    finished, whose summary records must then exist."""
    frames: dict[int, int] = {}  # scanned frame index -> faces in it
    items: list[tuple[str, str, SelectItem]] = []
    keys: set[tuple[str, str]] = set()
    for step, key, data in rows:
        keys.add((step, key))
        if not isinstance(data, str):
            return f"record {step}/{key!r} is not text"
        model = _model_for(step, key)
        try:
            if model is None:
                if not isinstance(json.loads(data), dict):
                    return f"record {step}/{key!r} is not an object"
                continue
            record = model.model_validate_json(data)
        except ValueError as exc:
            if not isinstance(exc, ValidationError):
                return f"record {step}/{key!r} is not JSON"
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            return f"record {step}/{key!r}: {where}: {first['msg']}"
        if isinstance(record, ScanFrame):
            frames[record.index] = len(record.faces)
        elif isinstance(record, SelectItem):
            items.append((step, key, record))
    for step, key, item in items:
        if frames.get(item.frame_index, 0) <= item.face:
            return f"record {step}/{key!r} refers to a face the scan did not find"
    summaries = {"scan": ("scan", INFO_KEY), "select": ("select", INFO_KEY)}
    summaries["manifest"] = ("manifest", "summary")
    for step, needed in summaries.items():
        if step in done_steps and needed not in keys:
            return f"step {step} is recorded as done but its {needed[1]!r} record is missing"
    return None
