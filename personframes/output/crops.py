"""Crop boxes: padding, fixed aspect ratios, kept inside the frame without distortion.

``head_box`` turns a face detection into a box around the whole head, for
face crops: ``crop_box(head_box(face), W, H, padding, ratio)``.
"""

from __future__ import annotations

import math

from ..types import Box, FaceDetection, Image, Point

RATIOS: dict[str, float | None] = {"1:1": 1.0, "4:3": 4 / 3, "16:9": 16 / 9, "any": None}

# Head framing, measured by bench/head_framing.py: CenterFace (640 px) on the
# 39 labelled frames of the shared videos where it finds the main face (labels:
# hairline-to-chin, cheek-to-cheek boxes) and the tops of the hair read by eye
# on contact sheets (0.1 box-height ticks) for 38 faces of those frames and of
# images/whole. Lengths are in U = eye-mouth distance / 0.358, which is one
# CenterFace box height on average (labelled box: 0.93 U tall, median).
#
# Eye midpoint to mouth midpoint per box height: median 0.358, MAD 0.011, range
# 0.34-0.42 from frontal to profile. Used as the scale when keypoints exist: it
# does not change when the head rolls, the box does.
EYE_MOUTH_PER_U = 0.358
# Box-only detections: the eye line lies 0.397 box heights below the box top (MAD 0.02).
EYE_LINE_IN_BOX = 0.397
# Top of the hair above the eye line: median 0.74 U, 75th percentile 0.85, 90th
# 0.93, max 1.19 (head bowed); per set the median is 0.84 (big curly hair),
# 0.60 (short hair), 0.65 (photos). At 0.85 the head box holds 74% of the hair
# tops; with 0.1 padding around it the crop holds 97% (reaches 1.01 U).
HAIR_TOP = 0.85
# Chin (labelled box bottom) below the eye line: median 0.59 U, 90th pct 0.65, max 0.71.
CHIN = 0.75
# Half width of a frontal head with ears: labelled cheeks lie -0.30 (-0.45..-0.21)
# and +0.35 (+0.20..+0.58) U from the face midline (between the eye and mouth
# midpoints), the wider side being the one the head turns away from.
HALF_WIDTH = 0.5
# Half the nose-tip-to-back-of-head length, and how far behind the face midline
# the head's centre lies in a full profile. Labelled profiles: nose tip 0.16
# (0.05-0.26) U in front of the midline, front of the ear 0.40 (0.18-0.55) U
# behind it; a head is about 1.1 U long from the nose tip (1.14 x hairline-to-chin,
# anthropometric means), so the back of the head lies about 0.95 U behind the
# midline. A profile head box so runs from 0.35 U in front of the midline to
# 1.0 U behind it.
HALF_DEPTH = 0.7
BACK_SHIFT = 0.35
# Eye distance / eye-mouth distance: median 0.95 for frontal faces (0.83-1.11),
# 0.22-0.84 turned, 0.06-0.30 profile. Yaw is read as acos(ratio / 0.95).
EYES_FRONTAL = 0.95
# The eye line sets the roll only when the eyes are apart (weight 0 at a ratio of
# 0.3, 1 from 0.8); in a profile the eye-to-mouth direction alone sets it.
EYES_NO_ROLL, EYES_FULL_ROLL = 0.3, 0.8
# Nose offset from the face midline, in eye-mouth distances, taken as a sure turn
# direction: turned faces show -0.18..-0.38, frontal ones -0.2..+0.19 (where the
# yaw term is near 0 anyway). Below it the box widens on both sides instead.
NOSE_SURE = 0.2
# Box-only detections: yaw unknown, so a little wider than a frontal head.
HALF_WIDTH_BOX_ONLY = 0.55
# The keypoint scale is trusted within these factors of the box height.
SCALE_LIMITS = (0.75, 1.35)


def _fit_axis(start: float, length: float, limit: int) -> tuple[float, float]:
    """Shift [start, start+length) inside [0, limit); shrink only if longer than limit."""
    length = min(length, float(limit))
    start = min(max(start, 0.0), limit - length)
    return start, start + length


def _mean(points: list[Point]) -> Point:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _ellipse_box(center: Point, half_u: float, half_v: float, u: Point) -> Box:
    """Axis-aligned box of an ellipse with half axes ``half_u`` along unit ``u``
    and ``half_v`` across it."""
    cos, sin = u
    half_x = math.hypot(half_u * cos, half_v * sin)
    half_y = math.hypot(half_u * sin, half_v * cos)
    cx, cy = center
    return Box(cx - half_x, cy - half_y, cx + half_x, cy + half_y)


def _box_only_head(box: Box) -> Box:
    unit = box.height
    cx = box.center[0]
    eye_y = box.y1 + EYE_LINE_IN_BOX * unit
    half = HALF_WIDTH_BOX_ONLY * unit
    return Box(cx - half, eye_y - HAIR_TOP * unit, cx + half, eye_y + CHIN * unit)


def head_box(face: FaceDetection) -> Box:
    """A box holding the whole head of ``face``: hair on top, chin, ears or the
    back of the head, with a small margin. May reach outside the image.

    The head is modelled as an ellipse in the face's own frame: origin at the eye
    midpoint, "down" from the eye-to-mouth direction (pulled towards the eye
    line's normal when both eyes are seen, so a rolled head is followed), unit
    U = eye-mouth distance / 0.358 (one CenterFace box height on average; kept
    within 0.75-1.35 box heights). Measured with CenterFace on the shared
    labelled frames and images (bench/head_framing.py):

    - top ``HAIR_TOP`` = 0.85 U above the eye line: 75th percentile of 38 hair
      tops read on contact sheets (median 0.74, max 1.19);
    - bottom ``CHIN`` = 0.75 U below it: labelled chins lie 0.59 U below the eye
      line (median; max 0.71 over 39 faces);
    - across, ``HALF_WIDTH`` = 0.5 U either side of the face midline when
      frontal (labelled cheeks at -0.30 / +0.35 U, ears outside them). As the
      head turns (eye distance / eye-mouth distance falling from 0.95 towards
      0.2) the half width grows towards ``HALF_DEPTH`` = 0.7 U and the centre
      moves up to ``BACK_SHIFT`` = 0.35 U away from the nose, so a profile box
      runs from 0.35 U in front of the midline (nose tips: 0.16 U, max 0.26) to
      1.0 U behind it (front of the ear 0.40 U, back of the head ~0.95 U).
      When the nose does not say which way the face turns, the box widens on
      both sides instead.

    All 39 labelled hairline-to-chin boxes lie inside it (median area 3x the
    labelled box). On frontal frames rotated by up to +-30 deg the face outline
    stays inside within 0.05 of its height; beyond that CenterFace's keypoints
    under-read the roll.

    Box only (no eyes and mouth): upright, centred on the box, from 0.85 U above
    to 0.75 U below an eye line 0.397 box heights down (CenterFace median), and
    0.55 U either side, with U = the box height.
    """
    box = face.box
    if box.height <= 0 or box.width <= 0:
        return box
    kp = face.keypoints
    left, right = kp.get("left_eye"), kp.get("right_eye")
    if "mouth_left" in kp and "mouth_right" in kp:
        mouth: Point | None = _mean([kp["mouth_left"], kp["mouth_right"]])
    else:
        mouth = kp.get("mouth")
    if left is None or right is None or mouth is None:
        return _box_only_head(box)
    eyes = _mean([left, right])
    em = math.hypot(mouth[0] - eyes[0], mouth[1] - eyes[1])
    if em <= 1e-6:
        return _box_only_head(box)
    low, high = SCALE_LIMITS
    unit = min(max(em / EYE_MOUTH_PER_U, low * box.height), high * box.height)

    # Down direction: eye-to-mouth, pulled towards the eye line's normal as far
    # as the eyes are apart (in a profile both eyes sit on the visible one).
    down = ((mouth[0] - eyes[0]) / em, (mouth[1] - eyes[1]) / em)
    eye_dx, eye_dy = right[0] - left[0], right[1] - left[1]
    eye_dist = math.hypot(eye_dx, eye_dy)
    ratio = eye_dist / em
    weight = min(max((ratio - EYES_NO_ROLL) / (EYES_FULL_ROLL - EYES_NO_ROLL), 0.0), 1.0)
    if weight > 0:
        normal = (-eye_dy / eye_dist, eye_dx / eye_dist)
        if normal[0] * down[0] + normal[1] * down[1] < 0:
            normal = (-normal[0], -normal[1])
        down = (down[0] + weight * normal[0], down[1] + weight * normal[1])
        norm = math.hypot(*down)
        down = (down[0] / norm, down[1] / norm)
    across = (down[1], -down[0])  # the face's own left-to-right, x when upright

    # Face midline: between the eye and mouth midpoints, measured along ``across``.
    mid_u = ((mouth[0] - eyes[0]) * across[0] + (mouth[1] - eyes[1]) * across[1]) / 2
    sin_yaw = math.sqrt(max(0.0, 1.0 - min(1.0, ratio / EYES_FRONTAL) ** 2))
    nose = kp.get("nose")
    side = 0.0  # +1: the nose points to the face's right (across), -1: to its left
    if nose is not None:
        nose_u = (nose[0] - eyes[0]) * across[0] + (nose[1] - eyes[1]) * across[1]
        side = min(max((nose_u - mid_u) / (NOSE_SURE * em), -1.0), 1.0)
    back = BACK_SHIFT * sin_yaw
    center_u = mid_u / unit - side * back
    half_u = math.hypot(HALF_WIDTH * math.sqrt(1 - sin_yaw**2), HALF_DEPTH * sin_yaw)
    half_u += (1 - abs(side)) * back
    center_v = (CHIN - HAIR_TOP) / 2
    half_v = (CHIN + HAIR_TOP) / 2
    center = (
        eyes[0] + unit * (center_u * across[0] + center_v * down[0]),
        eyes[1] + unit * (center_u * across[1] + center_v * down[1]),
    )
    return _ellipse_box(center, unit * half_u, unit * half_v, across)


def padded_size(
    width: float, height: float, padding: float, ratio: float | None, frame: tuple[int, int]
) -> tuple[float, float]:
    """A box's size padded by ``padding`` x its size on every side and, with ``ratio``
    (width / height; a portrait box gets the inverse), widened to it and then reduced
    evenly to fit the frame (``frame``: width, height)."""
    w = width * (1 + 2 * padding)
    h = height * (1 + 2 * padding)
    if ratio is not None:
        r = ratio if w >= h else 1 / ratio
        if w / h < r:
            w = h * r
        else:
            h = w / r
        scale = min(1.0, frame[0] / w, frame[1] / h)
        w, h = w * scale, h * scale
    return w, h


def crop_box(
    box: Box, frame_width: int, frame_height: int, padding: float, ratio: float | None = None
) -> Box:
    """Pad ``box`` by ``padding`` x its size on every side, optionally widen it to
    ``ratio`` (width / height; portrait boxes get the inverse so the longer
    side follows the subject), then shift it inside the frame.

    The box is never stretched: when it is larger than the frame it is cut
    to the frame, and with a fixed ratio it is reduced evenly to keep the
    ratio. Padding never invents pixels.
    """
    cx, cy = box.center
    w, h = padded_size(box.width, box.height, padding, ratio, (frame_width, frame_height))
    x1, x2 = _fit_axis(cx - w / 2, w, frame_width)
    y1, y2 = _fit_axis(cy - h / 2, h, frame_height)
    return Box(round(x1), round(y1), round(x2), round(y2))


def cut(image: Image, box: Box) -> Image:
    """The pixels of ``box`` (integer box inside the image)."""
    x1, y1, x2, y2 = (round(v) for v in (box.x1, box.y1, box.x2, box.y2))
    return image[y1:y2, x1:x2].copy()


def snap_to_bucket(image: Image, bucket: int | None, ratio: float | None = None) -> Image:
    """The centre of ``image`` cut to sides that are multiples of ``bucket``, keeping
    the crop's shape: of the bucket sizes that fit, the one whose width/height is
    nearest ``ratio`` (default: the image's own), the largest among equals. Never
    stretched; an image smaller than one bucket is returned as it is."""
    if bucket is None:
        return image
    height, width = image.shape[:2]
    target = ratio if ratio is not None else width / height
    best: tuple[float, int, int, int] | None = None  # (ratio error, -area, w, h)
    tallest = height // bucket * bucket
    for w in range(bucket, width + 1, bucket):
        near = int(w / target // bucket) * bucket  # the heights around w / target
        for h in {min(max(near, bucket), tallest), min(near + bucket, tallest)}:
            if h < bucket:
                continue
            error = round(abs(math.log(w / h / target)), 3)
            key = (error, -w * h, w, h)
            if best is None or key < best:
                best = key
    if best is None:
        return image
    _, _, new_w, new_h = best
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return image[top : top + new_h, left : left + new_w]
