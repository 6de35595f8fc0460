"""How much of a person's head is inside the frame: a head cut by the frame's edge makes
a poor face crop (the crop is shifted inside the frame, so the head sits off-centre and
part of it is missing)."""

from __future__ import annotations

from ..output.crops import head_box
from ..types import FaceDetection


def head_in_frame(face: FaceDetection, width: int, height: int) -> float:
    """The share (0 to 1, two decimals) of the face's head box (hair to chin, ears
    included, as face crops frame it) that lies inside a ``width`` x ``height`` frame."""
    head = head_box(face)
    if head.area <= 0:
        return 1.0
    return round(head.clip(width, height).area / head.area, 2)
