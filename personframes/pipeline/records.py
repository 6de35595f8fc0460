"""JSON forms of the values the steps store between them."""

from __future__ import annotations

from typing import Any

from ..types import Box, FaceDetection


def face_to_dict(face: FaceDetection) -> dict[str, Any]:
    return {
        "box": [round(v, 2) for v in (face.box.x1, face.box.y1, face.box.x2, face.box.y2)],
        "score": round(float(face.score), 4),
        "keypoints": {
            k: [round(float(x), 2), round(float(y), 2)] for k, (x, y) in face.keypoints.items()
        },
        "detector": face.detector,
    }


def face_from_dict(data: dict[str, Any]) -> FaceDetection:
    x1, y1, x2, y2 = data["box"]
    return FaceDetection(
        box=Box(x1, y1, x2, y2),
        score=data["score"],
        keypoints={k: (v[0], v[1]) for k, v in data["keypoints"].items()},
        detector=data["detector"],
    )


def face_for_manifest(face: FaceDetection) -> dict[str, Any]:
    """The face as info.json shows it: box as x, y, width, height."""
    data = face_to_dict(face)
    del data["box"]
    return {"box_xywh": face.box.as_xywh(), **data}
