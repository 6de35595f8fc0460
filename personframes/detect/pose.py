"""33 body landmarks per person: BlazePose (mediapipe's pose models) on LiteRT.

The model finds one person per call, so :class:`PoseEstimator` runs it on a region per
person: :func:`body_region` grows a face box into a region wide and tall enough to hold
that person's body (most of it below the face). Landmarks come back in full-frame pixels.

The models are ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` (mediapipe's
``model_complexity=1``), bundled with the package; :mod:`.blazepose` ports what
mediapipe's ``mp.solutions.pose.Pose(static_image_mode=True)`` does around them, so the
landmarks match what the project got from mediapipe (``tests/test_pose_parity.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ModelError
from ..types import Box, FaceDetection, Image
from .blazepose import BlazePose

log = logging.getLogger(__name__)

# mediapipe's 33 pose landmarks, in model order. "left"/"right" here are the
# PERSON's own left and right (mediapipe's convention), not the viewer's.
POSE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
_INDEX = {name: i for i, name in enumerate(POSE_LANDMARK_NAMES)}
# mediapipe's model_complexity -> landmark model: only the full model (1) is bundled.
BUNDLED_COMPLEXITIES: dict[int, str] = {1: "pose_landmark_full.tflite"}
MIN_REGION_PX = 16  # regions narrower or shorter than this are not worth a model run
SAME_BODY_IOU = 0.3  # two landmark boxes overlapping this much are one person's body


@dataclass(frozen=True)
class Landmark:
    """One body landmark: full-frame pixels, relative depth, visibility 0..1.

    ``z``: depth in the scale of x (pixels of the region the model ran on), hips ~ 0,
    smaller = nearer the camera. ``presence``: probability that the landmark lies inside
    the image (1.0 where not measured).
    """

    x: float
    y: float
    z: float
    visibility: float
    presence: float = 1.0


@dataclass(frozen=True)
class WorldLandmark:
    """One body landmark in metres, origin between the hips; axes as the image's (x right,
    y down), z away from the camera."""

    x: float
    y: float
    z: float


@dataclass(frozen=True)
class BodyPose:
    """The 33 landmarks of one person and the region the model ran on.

    ``world_landmarks``: the same 33 points in metres (empty where not measured).
    ``score``: the landmark model's probability that a person is there (0..1).
    """

    landmarks: tuple[Landmark, ...]
    region: Box
    world_landmarks: tuple[WorldLandmark, ...] = ()
    score: float = 1.0

    def __getitem__(self, name: str) -> Landmark:
        return self.landmarks[_INDEX[name]]

    def world(self, name: str) -> tuple[float, float, float]:
        """Landmark ``name`` in metres (world landmarks must be present)."""
        w = self.world_landmarks[_INDEX[name]]
        return (w.x, w.y, w.z)

    def visible(self, name: str, min_visibility: float) -> bool:
        return self[name].visibility >= min_visibility

    def box(self, min_visibility: float = 0.5) -> Box | None:
        """Bounding box of the landmarks at least ``min_visibility`` visible."""
        pts = [(lm.x, lm.y) for lm in self.landmarks if lm.visibility >= min_visibility]
        if not pts:
            return None
        xs, ys = zip(*pts, strict=True)
        return Box(min(xs), min(ys), max(xs), max(ys))


def body_region(face_box: Box, width: int, height: int) -> Box:
    """Region likely to hold the body of the person whose face is ``face_box``.

    Five face widths either side (a seated person's legs may stretch
    sideways), one face height above and nine below (a standing adult is
    about 7-8 heads tall), clipped to the frame.
    """
    cx, _ = face_box.center
    size = max(face_box.width, face_box.height)
    region = Box(cx - 5 * size, face_box.y1 - 1.0 * size, cx + 5 * size, face_box.y2 + 9 * size)
    return region.clip(width, height)


class PoseEstimator:
    """BlazePose on a region per person; ``close()`` when done.

    ``model_complexity``: mediapipe's setting; only 1 (the full model) is bundled.
    ``min_detection_confidence``: the person detector's score threshold.
    """

    NAME = "blazepose"

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5) -> None:
        if model_complexity not in BUNDLED_COMPLEXITIES:
            raise ModelError(
                f"pose model_complexity={model_complexity} is not bundled "
                f"(bundled: {sorted(BUNDLED_COMPLEXITIES)})"
            )
        # The loader keeps LiteRT's XNNPACK line off the terminal (detect/_litert.py).
        self._model: BlazePose | None = BlazePose(min_detection_confidence=min_detection_confidence)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, image: Image, region: Box | None = None) -> BodyPose | None:
        """The most prominent person's landmarks inside ``region`` (default: whole image)."""
        if self._model is None:
            raise ModelError("PoseEstimator is closed")
        height, width = image.shape[:2]
        area = Box(0, 0, width, height) if region is None else region.clip(width, height)
        x1, y1 = round(area.x1), round(area.y1)
        x2, y2 = round(area.x2), round(area.y2)
        if x2 - x1 < MIN_REGION_PX or y2 - y1 < MIN_REGION_PX:
            return None
        result = self._model.process(image[y1:y2, x1:x2])
        if result is None:
            return None
        cw, ch = x2 - x1, y2 - y1
        landmarks = tuple(
            Landmark(
                x=x1 + float(x) * cw,
                y=y1 + float(y) * ch,
                z=float(z) * cw,
                visibility=float(visibility),
                presence=float(presence),
            )
            for x, y, z, visibility, presence in result.landmarks.tolist()
        )
        world = tuple(
            WorldLandmark(float(x), float(y), float(z))
            for x, y, z in result.world_landmarks[:, :3].tolist()
        )
        return BodyPose(
            landmarks=landmarks,
            region=Box(x1, y1, x2, y2),
            world_landmarks=world,
            score=result.presence,
        )

    def detect_people(self, image: Image, faces: Sequence[FaceDetection]) -> list[BodyPose | None]:
        """One pose per face (None where no body was found), each in its own region.

        A pose whose nose/eyes land outside the face's neighbourhood belongs
        to someone else in the region and is dropped.
        """
        height, width = image.shape[:2]
        poses: list[BodyPose | None] = []
        for face in faces:
            pose = self.detect(image, body_region(face.box, width, height))
            if pose is not None and not belongs_to(pose, face.box):
                log.debug("pose in region of face %s belongs to another person", face.box)
                pose = None
            poses.append(pose)
        return poses

    def detect_faceless(
        self,
        image: Image,
        faces: Sequence[FaceDetection],
        poses: Sequence[BodyPose | None],
        min_visibility: float,
    ) -> BodyPose | None:
        """The most prominent person in the whole frame when that person is none of
        ``faces``' people (their face was not found: seen from behind, turned away, or
        too small): their head landmarks lie near no face box, and their body overlaps
        no body already found (``poses``, one per face) by ``SAME_BODY_IOU`` or more.
        None when the frame's most prominent person is one of ``faces``' people.
        """
        pose = self.detect(image)
        if pose is None or any(belongs_to(pose, face.box) for face in faces):
            return None
        box = pose.box(min_visibility)
        if box is None:
            return None
        for other in poses:
            other_box = None if other is None else other.box(min_visibility)
            if other_box is not None and box.iou(other_box) >= SAME_BODY_IOU:
                return None
        return pose


def belongs_to(pose: BodyPose, face_box: Box) -> bool:
    """True when the pose's head landmarks sit near the face box."""
    size = max(face_box.width, face_box.height)
    cx, cy = face_box.center
    grown = Box(cx - 1.5 * size, cy - 1.5 * size, cx + 1.5 * size, cy + 1.5 * size)
    head = [pose[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    return any(grown.contains((lm.x, lm.y)) for lm in head)
