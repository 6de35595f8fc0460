"""The typed records the steps store and read, defined and serialised here only.

Each step writes these models to the state database (``StateStore.save``) and the
next reads them back typed (``StateStore.load``): no step reads another's rows by key
names. A state database comes from a folder we did not necessarily write (copied,
edited, damaged): before any step reads it, every stored record is validated against
these models and the references between them followed (``check_video_records``); one
that does not fit makes the database fail its check, so it is set aside.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from ..output.naming import OutputKind, is_plain_file_name
from ..types import Box, FaceDetection

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


class Record(BaseModel):
    # Later versions may add fields; what this version reads must be there and typed.
    model_config = ConfigDict(
        extra="allow", strict=True, allow_inf_nan=False, frozen=True, populate_by_name=True
    )

    def to_json(self) -> str:
        """The one serialisation of every record."""
        return self.model_dump_json(by_alias=True)


class FaceRecord(Record):
    box: Box4
    score: Number
    keypoints: dict[str, Point]
    detector: str

    @classmethod
    def of(cls, face: FaceDetection) -> FaceRecord:
        return cls(
            box=(
                round(float(face.box.x1), 2),
                round(float(face.box.y1), 2),
                round(float(face.box.x2), 2),
                round(float(face.box.y2), 2),
            ),
            score=round(float(face.score), 4),
            keypoints={
                k: (round(float(x), 2), round(float(y), 2)) for k, (x, y) in face.keypoints.items()
            },
            detector=face.detector,
        )

    def detection(self) -> FaceDetection:
        x1, y1, x2, y2 = self.box
        return FaceDetection(
            box=Box(x1, y1, x2, y2),
            score=self.score,
            keypoints={k: (v[0], v[1]) for k, v in self.keypoints.items()},
            detector=self.detector,
        )

    def for_manifest(self) -> dict[str, Any]:
        """The face as info.json shows it: box as x, y, width, height."""
        data = json.loads(self.to_json())
        del data["box"]
        return {"box_xywh": self.detection().box.as_xywh(), **data}


class QualityRecord(Record):
    sharpness: Number
    brightness: Number
    contrast: Number
    noise: Number


class HeadRecord(Record):
    direction: str
    yaw: Number | None  # None: not measured
    pitch: Number | None
    roll: Number | None
    method: str
    reason: str


class PoseRecord(Record):
    class_: str = Field(alias="class")
    reason: str
    method: str | None = None  # "3d" (world landmarks), "2d" (a counted fallback), "none"


class ShotRecord(Record):
    type: str
    reason: str


class PersonRecord(Record):
    head: HeadRecord
    pose: PoseRecord
    shot: ShotRecord
    body_box: Box4 | None
    face_quality: QualityRecord
    signature: list[Number]
    # Face identity embedding (128 numbers) of a face turned toward the camera; None
    # for profiles, people found by their body alone, or without the identity model.
    identity: list[Number] | None = None
    # The share of the head box (as face crops frame it) inside the frame; None for a
    # person found by their body alone, and in scans before version 6.
    head_in_frame: Number | None = None


class ScanFrame(Record):
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
        # people[i] is faces[i]'s person; people past the faces were found by their body
        # alone (their face was not), and have a body box.
        if len(self.people) < len(self.faces):
            raise ValueError(f"{len(self.faces)} faces but {len(self.people)} people")
        if any(p.body_box is None for p in self.people[len(self.faces) :]):
            raise ValueError("a person without a face has no body box")
        return self


class VideoRecord(Record):
    """The scanned video as the decoder found it (``VideoInfo.to_dict``)."""

    path: str
    width: int  # upright (after rotation)
    height: int
    rotation: int  # counter-clockwise degrees applied to decoded frames
    duration_s: Number
    frame_rate: Number
    frame_count: int  # from the container; 0 when unknown
    codec: str


class ScanInfo(Record):
    video: VideoRecord
    frames_decoded: int
    sampled: int
    candidates: int
    duplicates_removed: int
    shot_cuts: list[int]
    keyframe_times: list[Number]
    frames_without_pts: int
    device_fallbacks: list[str] = []  # "model: why the CPU ran it although a GPU was asked for"
    identity_unavailable: str | None = None  # why no face got an identity embedding


class SelectInfo(Record):
    shot_cuts: list[int]
    people: int
    candidates_unknown_head: int
    selected: int
    face_crops_too_small: int = 0  # selected faces under --min-face-size: no face crop
    face_crops_blurred: int = 0  # selected faces under selection.min_face_sharpness
    face_crops_turned_away: int = 0  # selected faces not turned toward the camera
    faceless_sightings: int = 0  # candidates found by their body alone (no face crops)
    people_left_out: int = 0  # by --people N
    people_not_matching_reference: int = 0  # by --reference-face / --exclude-face
    poses_carried: int = 0  # waist-up sightings given the same person's pose nearby


class FaceScores(Record):
    """A person's quality in one frame, 0 to 1 ranked within the video
    (``pipeline/video_analysis.face_scores``), and the face region's raw sharpness."""

    overall: Number
    sharpness: Number
    exposure: Number
    contrast: Number
    noise: Number
    sharpness_laplacian_var: Number  # variance of the Laplacian (selection.min_face_sharpness)


class SelectItem(Record):
    kind: OutputKind
    file: FileName
    frame_index: int
    face: int = Field(ge=0)  # the person's place in the frame's people (faces first)
    person_id: int
    pose: str
    head_direction: str
    shot_type: str
    rank: int
    quality: FaceScores
    reason: str
    seq: int
    person_ids: list[int] | None = None  # a full frame chosen for several people: all of them
    # --reference-face: this face's identity distance to the nearest photo (face crops
    # whose face has an identity), and the person's median distance (what kept them).
    reference_distance: Number | None = None
    person_reference_distance: Number | None = None


_ABSENT_UNLESS_SET = ("device_fallback", "precision_fallback")


class RestorationRecord(Record):
    """What the restorer did to one face crop and why (``RestoreResult.record``): the
    policy's decision, what ran, and the identity check. Not how long it took: a
    manifest is the same whichever run, machine or shard wrote it."""

    model: str
    restored: bool  # the model's output is part of the image
    policy: str | None  # None: strength 0, no policy asked
    decision: str  # "restore", "lanczos" or "off"
    reason: str | None
    face_px: Number | None
    face_px_estimated: bool | None
    factor: Number | None
    blur: Number | None
    strength: Number  # what it restored at (0: Lanczos only)
    model_input: list[int] | None  # (w, h) the model saw
    departure_db: Number | None
    device: str  # "none" when no model ran
    engine: str | None
    precision: str | None
    fell_back: bool
    identity_distance: Number | None
    identity_drift: bool
    # Stored, and shown in info.json, only when there is one.
    device_fallback: str | None = None  # why the CPU ran it although a GPU was asked for
    precision_fallback: str | None = None  # why bf16 was asked for but fp32 ran

    @model_serializer(mode="wrap")
    def _without_absent_fallbacks(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in _ABSENT_UNLESS_SET:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class WriteItem(SelectItem):
    size: tuple[int, int]
    folder: FileName | None = None  # --group-by-person: the files are in OUT/folder/
    caption: FileName | None = None
    crop_box_xywh: tuple[int, int, int, int] | None = None
    restoration: RestorationRecord | None = None
    restored_key: str | None = _hex(32, None)
    before: FileName | None = None  # a restored face's crop before restoration (review)
    body_box_estimated: bool | None = None
    reread_from_start: bool | None = None

    @property
    def path(self) -> str:
        """The image's path relative to the output folder."""
        return self.file if self.folder is None else f"{self.folder}/{self.file}"


class ClipQuality(Record):
    overall: Number  # the mean of the sightings' (0..1, ranked within the video)
    sharpness_laplacian_var: Number  # the median of the sightings'


class ClipItem(Record):
    """A clip of one person (``extract --clips``), written with its caption."""

    kind: Literal["clip"] = "clip"
    file: FileName
    folder: FileName | None = None  # --group-by-person
    caption: FileName
    seq: int
    person_id: int
    shot: int = Field(ge=0)  # the shot it lies in (0: before the first cut)
    start_s: Number
    end_s: Number  # the time of its last frame
    frames: int = Field(ge=1)
    fps: Number
    size: tuple[int, int]
    first_frame_index: int = Field(ge=0)  # the decoded frames shown first and last
    last_frame_index: int = Field(ge=0)
    crop: str  # frame, person or face
    crop_boxes_xywh: list[tuple[int, int, int, int]]  # in each of its frames
    frames_bridged: int  # frames without the face found, its box interpolated
    jitter_px: Number  # the person's box, frame to frame, before smoothing
    smoothed_jitter_px: Number  # the crop's, after
    pose: str
    head_direction: str
    shot_type: str
    quality: ClipQuality
    rank: int  # 1-based among the person's clips, by quality

    @model_validator(mode="after")
    def _a_box_per_frame(self) -> ClipItem:
        if self.frames % 4 != 1 or len(self.crop_boxes_xywh) != self.frames:
            raise ValueError(f"{self.frames} frames (4n+1) and {len(self.crop_boxes_xywh)} boxes")
        return self

    @property
    def path(self) -> str:
        return self.file if self.folder is None else f"{self.folder}/{self.file}"

    @property
    def reason(self) -> str:
        """Why it was chosen, as info.json and the gallery say it."""
        return f"clip {self.rank} of person {self.person_id} by quality"


class ClipsInfo(Record):
    """The clips step's counts for one video."""

    planned: int  # windows chosen before tracking
    written: int
    too_soft: int  # windows whose sightings were not sharp enough
    lost: int  # tracked for fewer than the fewest frames
    no_face: int  # windows with no face to follow
    too_small: int = 0  # --clip-crop face: faces under --min-face-size


class RestoredEntry(Record):
    key: str = _hex(32)
    record: RestorationRecord


class EngineUsed(Record):
    """The engine and precision a video's faces were restored with (its first restored
    face decides): a resumed run restores the rest with them, whatever the machine's
    saved choice is by then."""

    model: str
    strength: Number  # the blend strength it restored at (bf16 is judged at it)
    engine: str
    precision: str

    @property
    def key(self) -> str:
        return f"{ENGINE_KEY}:{self.model}@{self.strength:g}"


class IdentitySummary(Record):
    """How far the restored faces moved from their Lanczos resize in face identity."""

    checked: int  # faces whose distance was measured
    median: Number | None  # None: none checked
    max: Number | None
    drift: int  # refused for identity drift (the Lanczos face kept)


class RunSummary(Record):
    """The manifest step's counts for one video (also the run summary's)."""

    frames_decoded: int
    candidates: int
    duplicates_removed: int
    frames_with_faces: int
    faces: int
    files_written: int
    outputs_by_kind: dict[str, int]
    selected_by_category: dict[str, int]
    restorations: int
    restoration_decisions: dict[str, int]
    restoration_identity: IdentitySummary | None = None  # None: not measured
    fallbacks: dict[str, int]
    shot_cuts: list[int]
    people: int
    candidates_unknown_head: int
    selected: int
    face_crops_too_small: int = 0
    face_crops_blurred: int = 0
    face_crops_turned_away: int = 0
    faceless_sightings: int = 0
    people_left_out: int = 0
    people_not_matching_reference: int = 0
    poses_carried: int = 0
    restoration_engines: dict[str, int] = {}  # "ENGINE PRECISION" -> faces restored on it
    clips: int | None = None  # extract --clips: clips written (None: not asked for)
    # Planned clips not made, by why: too_soft, lost (the face lost for too long), no_face
    # (seen from behind), too_small (--clip-crop face under --min-face-size)
    clips_left_out: dict[str, int] | None = None

    @model_serializer(mode="wrap")
    def _without_absent_clips(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No clip keys when clips were not asked for (a summary as before them)."""
        data: dict[str, Any] = handler(self)
        for name in ("clips", "clips_left_out"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


INFO_KEY = "~info"  # the scan's and the select step's summary record
SUMMARY_KEY = "summary"  # the manifest step's
ENGINE_KEY = "~engine"  # the restored-crop cache's EngineUsed records: ~engine:MODEL@S


def _model_for(step: str, key: str) -> type[Record] | None:
    """The model a record of ``step`` stored under ``key`` must fit (None: a plain dict)."""
    if step == "scan":
        return ScanInfo if key == INFO_KEY else ScanFrame
    if step == "select":
        return SelectInfo if key == INFO_KEY else SelectItem
    if step == "write":
        return WriteItem
    if step == "restored":
        return EngineUsed if key.startswith(ENGINE_KEY) else RestoredEntry
    if step == "clips":
        return ClipsInfo if key == INFO_KEY else ClipItem
    if step == "manifest":
        return RunSummary
    return None


def check_video_records(rows: Iterable[tuple[str, str, str]], done_steps: set[str]) -> str | None:
    """None when one video's records ``(step, key, json)`` fit their models and refer to
    each other correctly, else what is wrong. ``done_steps`` are the steps recorded as
    finished, whose summary records must then exist."""
    frames: dict[int, tuple[int, int]] = {}  # scanned frame index -> (faces, people) in it
    items: list[tuple[str, str, SelectItem]] = []
    keys: set[tuple[str, str]] = set()
    for step, key, data in rows:
        keys.add((step, key))
        if not isinstance(data, str):
            return f"record {step}/{key!r} is not text"
        model = _model_for(step, key)
        if model is None:
            return f"record {step}/{key!r} of a step this version does not know"
        try:
            record = model.model_validate_json(data)
        except ValueError as exc:
            if not isinstance(exc, ValidationError):
                return f"record {step}/{key!r} is not JSON"
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            return f"record {step}/{key!r}: {where}: {first['msg']}"
        if isinstance(record, ScanFrame):
            frames[record.index] = (len(record.faces), len(record.people))
        elif isinstance(record, SelectItem):
            items.append((step, key, record))
    for step, key, item in items:
        faces, people = frames.get(item.frame_index, (0, 0))
        if (faces if item.kind == "face" else people) <= item.face:
            return f"record {step}/{key!r} refers to a person the scan did not find"
    summaries = {"scan": ("scan", INFO_KEY), "select": ("select", INFO_KEY)}
    summaries["manifest"] = ("manifest", SUMMARY_KEY)  # clips: none when not asked for
    for step, needed in summaries.items():
        if step in done_steps and needed not in keys:
            return f"step {step} is recorded as done but its {needed[1]!r} record is missing"
    return None
