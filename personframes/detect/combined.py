"""Several face detectors run on the same image, their results merged by overlap."""

from __future__ import annotations

from collections.abc import Sequence

from ..types import FaceDetection, Image
from .base import DownscalingFaceDetector, FaceDetector, overlap_of_smaller

# Two detectors' boxes for one face differ in shape and placement (MediaPipe's are
# square and shifted on profiles, so their IoU with CenterFace's can fall below 0.3);
# they are one face when the intersection covers half of the smaller box.
DEFAULT_MERGE_OVERLAP = 0.5


class CombinedFaceDetector(DownscalingFaceDetector):
    """Union of several detectors' faces; overlapping detections become one.

    ``children`` are in priority order. Detections whose intersection covers at
    least ``merge_overlap`` of the smaller box are one face: it keeps the box and the
    keypoints of the highest-priority child that found it (the first child's
    boxes are the tighter ones), adds keypoint names only the others have, and
    takes the highest score of the group. A face found by one child only is kept
    as that child reported it. ``NAME`` is set per instance to the registry id.
    """

    NAME = "combined"

    def __init__(
        self,
        name: str,
        children: Sequence[FaceDetector],
        *,
        max_side: int = 640,
        merge_overlap: float = DEFAULT_MERGE_OVERLAP,
    ) -> None:
        # Children apply their own confidence thresholds; this level only resizes once.
        super().__init__(confidence=0.0, max_side=max_side)
        if not children:
            raise ValueError("a combined detector needs at least one child detector")
        self.NAME = name
        self.children = tuple(children)
        self.merge_overlap = merge_overlap
        fallbacks = [c.device_fallback for c in self.children if c.device_fallback]
        self.device_fallback = "; ".join(fallbacks) or None

    def _detect_scaled(self, image: Image) -> list[FaceDetection]:
        per_child = [child.detect(image) for child in self.children]
        return merge(per_child, self.NAME, self.merge_overlap)


def merge(
    per_child: Sequence[Sequence[FaceDetection]], name: str, merge_overlap: float
) -> list[FaceDetection]:
    """Merge the children's detections, given in priority order (see ``CombinedFaceDetector``).

    Only detections of different children are merged: each child's own
    non-maximum suppression already decided which of its boxes are distinct faces.
    """
    groups: list[list[tuple[int, FaceDetection]]] = []
    for child, detections in enumerate(per_child):
        for det in detections:  # each child's list is sorted by score
            group = next(
                (
                    g
                    for g in groups
                    if all(c != child for c, _ in g)
                    and overlap_of_smaller(g[0][1].box, det.box) >= merge_overlap
                ),
                None,
            )
            if group is None:
                groups.append([(child, det)])
            else:
                group.append((child, det))
    return [_merged(group, name) for group in groups]


def _merged(group: Sequence[tuple[int, FaceDetection]], name: str) -> FaceDetection:
    lead = group[0][1]
    keypoints = dict(lead.keypoints)
    for _, det in group[1:]:
        for key, point in det.keypoints.items():
            keypoints.setdefault(key, point)
    return FaceDetection(
        box=lead.box,
        score=max(det.score for _, det in group),
        keypoints=keypoints,
        detector=name,
    )
