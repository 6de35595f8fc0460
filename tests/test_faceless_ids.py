"""Ids of people found by their body alone (pipeline.people.person_ids), on records."""

from __future__ import annotations

from personframes.output.naming import NO_FACE
from personframes.pipeline.people import person_ids
from personframes.state.records import (
    FaceRecord,
    HeadRecord,
    PersonRecord,
    PoseRecord,
    QualityRecord,
    ScanFrame,
    ShotRecord,
)

QUALITY = QualityRecord(sharpness=50.0, brightness=0.5, contrast=0.5, noise=0.1)
SIGNATURE = [1.0 / 256] * 256
OTHER_LOOKS = [1.0] + [0.0] * 255  # another person's colours


def _person(
    body: tuple[float, float, float, float],
    direction: str = "front",
    looks: list[float] = SIGNATURE,
) -> PersonRecord:
    return PersonRecord(
        head=HeadRecord(
            direction=direction, yaw=0.0, pitch=0.0, roll=0.0, method="mesh", reason=""
        ),
        pose=PoseRecord(class_="standing", reason=""),
        shot=ShotRecord(type="full_body", reason=""),
        body_box=body,
        face_quality=QUALITY,
        signature=looks,
    )


def _face(box: tuple[float, float, float, float]) -> FaceRecord:
    return FaceRecord(box=box, score=0.9, keypoints={}, detector="centerface")


Box4 = tuple[float, float, float, float]


def _frame(
    index: int, faces: list[Box4], bodies: list[Box4], looks: list[float] = SIGNATURE
) -> ScanFrame:
    people = [_person((f[0] - 40, f[1], f[2] + 40, f[3] + 300)) for f in faces]
    people += [_person(b, NO_FACE, looks) for b in bodies]
    return ScanFrame(
        index=index,
        time_s=index / 10,
        keyframe=False,
        dhash="0" * 16,
        reason="interval",
        faces=[_face(f) for f in faces],
        quality=QUALITY,
        people=people,
    )


def test_a_body_alone_is_the_person_it_overlaps_nearby_and_never_one_beside_it() -> None:
    alice = (100.0, 50.0, 160.0, 120.0)  # her face; her body: 60-200 x 50-420
    bob = (500.0, 50.0, 560.0, 120.0)
    frames = [
        _frame(0, [alice], []),  # alice: id 1
        _frame(10, [], [(62.0, 52.0, 198.0, 418.0)]),  # alice turned away, 1 s later
        _frame(15, [bob], [(60.0, 55.0, 200.0, 415.0)]),  # bob arrives: id 2, beside her
        _frame(200, [], [(900.0, 50.0, 1000.0, 400.0)], OTHER_LOOKS),  # 20 s on: someone new
    ]
    ids = person_ids(frames, cuts=[])
    assert ids == [[1], [1], [2, 1], [3]]


def test_a_body_alone_never_takes_the_id_of_someone_beside_it() -> None:
    """A body track that overlaps Alice's body once, but is seen beside her face in
    another frame, is someone else (say, a person behind her): two people, two ids."""
    alice = (100.0, 50.0, 160.0, 120.0)
    frames = [
        _frame(0, [alice], []),
        _frame(5, [], [(70.0, 60.0, 210.0, 420.0)]),  # overlaps her body of frame 0
        _frame(8, [alice], [(90.0, 60.0, 230.0, 420.0)]),  # the same body, beside her
    ]
    ids = person_ids(frames, cuts=[])
    other = ids[1][0]
    assert other != 1 and ids[2] == [1, other]
