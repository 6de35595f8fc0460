"""The restoration policy: per face, whether the model runs and at which strength.

Decided from what can be measured without a reference, as ``FaceFeatures``:
- ``face_px``: height of the face in the source pixels (the detector's box);
- ``factor``: target size / the crop's longest side (how much it is enlarged);
- ``blur``: :func:`.metrics.blur_index` of the crop (0 crisp .. 1 flat).

``auto`` (the default) follows ``RULES``, read off ``bench/restore_fidelity.py`` (real
faces made small, compressed, blurred or noisy, every output scored against the original
face). Means over the bench's inputs of 48 px faces and more, PSNR gain over Lanczos at
strength 0.25 / 0.5 / 0.8:
- blurred: x1 +1.66 / +1.63 / -0.39 dB, x1.5 +1.58 / +1.74 / +0.10, x2 +1.53 / +2.08 /
  +1.04: 0.5 (as good as 0.25 in PSNR, sharpness much closer to the original's);
- not blurred, enlarged x1.5 to x3: +0.58 to +0.62 at 0.25, -0.14 to +0.14 at 0.5,
  -1.3 to -2.5 at 0.8: 0.25 (SSIM also up, +0.006 to +0.014);
- not blurred, not enlarged: the face is kept as it is (``restore`` leaves sharp faces
  alone even where JPEG or noise would let the model gain a little);
- faces under ``MIN_FACE_PX``: never (looked at: at 24-32 px the model draws smeared
  eyes; the first release's strength 0.8 loses 0.4-1.4 dB there).
The user's ``--face-restoration-strength`` caps the strength. ``always`` runs the
model on every face at that strength (the first release's behaviour, without its
input bound).

In both, the model sees the crop at its native resolution, never shrunk. Its cost grows
with the square of the crop's side (35.9 MFLOP per input pixel for x4plus), so each
rule has a largest crop it is worth running on (``Rule.max_input``: 256 px for the light
touch, ``MAX_MODEL_INPUT`` for blurred faces); above it ``auto`` resizes with Lanczos
and says so, while ``always`` shrinks crops above ``MAX_MODEL_INPUT`` and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from ..config import PolicyName
from ..types import Image
from .metrics import blur_index

POLICY_NAMES: tuple[str, ...] = get_args(PolicyName)
Action = Literal["restore", "lanczos"]

# Faces smaller than this (source px, detector box height) are never restored:
# below it the model invents features (smeared eyes, slits for sunglasses).
MIN_FACE_PX = 48
# Largest model input (longest side, px): 384 px is 5.3 TFLOP for x4plus, 20-40 s on
# two cores. Above it "auto" uses Lanczos and "always" shrinks the input to it.
MAX_MODEL_INPUT = 384
# A face crop as extract writes it (head box 0.85 + 0.75 detector-box heights tall, see
# output.crops.head_box, plus padding 0.1 on each side): the face's height is about
# 1 / (1.6 * 1.2) of the crop's longest side (used when the caller does not say).
FACE_FRACTION_OF_CROP = 0.52
# Face height / side of an FFHQ-aligned face (CenterFace boxes on the shared 512 px
# aligned faces: 311-394 px, median 0.62 of the side).
ALIGNED_FACE_FRACTION = 0.62


@dataclass(frozen=True)
class FaceFeatures:
    """What the policy sees of one face."""

    face_px: float  # face height in source pixels
    factor: float  # target / crop's longest side
    blur: float  # blur_index of the crop
    input_side: int  # crop's longest side (px): the model's input at native resolution
    face_px_estimated: bool = False  # face_px guessed from the crop (caller gave none)


@dataclass(frozen=True)
class Rule:
    """One cell of the table: faces with factor in (min_factor, max_factor], blur in
    [min_blur, max_blur) and face height below ``max_face_px`` get ``strength``
    (0: Lanczos only)."""

    min_factor: float
    max_factor: float
    min_blur: float
    max_blur: float
    max_face_px: float
    strength: float
    why: str
    max_input: int = 0  # largest crop (px) worth the model's cost for this cell
    # The model this cell runs when the default model is configured (None: the
    # configured one): the cheapest that keeps most of the gain (bench/restore_fidelity).
    model: str | None = None

    def matches(self, f: FaceFeatures) -> bool:
        return (
            self.min_factor < f.factor <= self.max_factor
            and self.min_blur <= f.blur < self.max_blur
            and f.face_px < self.max_face_px
        )


INF = float("inf")
# Blur index at and above which a face counts as blurred. Measured on head crops:
# the labelled "sharp" and "soft" faces of the shared videos 0.55-0.67, the labelled
# "blurred" one 0.78; bench inputs area-downscaled, JPEG-compressed or noisy
# 0.50-0.69, after a 1 px Gaussian blur 0.70-0.80 (5th percentile 0.72).
BLURRED = 0.69
# Largest face the light restoration of crisp faces was measured on (bench truths are
# capped at 256 px crops: faces up to about 130 px once enlarged by 1.5 or more).
# Larger crisp faces already hold their detail; outside the measured range: Lanczos.
MAX_CRISP_FACE_PX = 160
# The light touch gains about 0.6 dB; above 256 px (2.4 TFLOP for x4plus, about 9 s on
# two cores) its cost grows with the square of the side for the same small gain.
LIGHT_TOUCH_MAX_INPUT = 256
# The light touch runs the compact realesr-animevideov3 (SRVGG, shipped beside x4plus)
# when x4plus is configured: measured on the bench's enlarged crisp faces at strength
# 0.25 it keeps about two thirds of x4plus's gain over Lanczos (+0.73 against +1.16 dB
# PSNR; SSIM +0.014 against +0.016) for 2 % of its time (0.08 against 4.2 s a face on
# two cores). Blurred faces keep x4plus: there the compact model keeps under 40 %.
LIGHT_TOUCH_MODEL = "realesr-animevideov3"
RULES: tuple[Rule, ...] = (
    Rule(0.0, 1.25, 0.0, BLURRED, INF, 0.0, "not enlarged and not blurred: left as is"),
    Rule(0.0, INF, BLURRED, INF, INF, 0.5, "blurred: restored", MAX_MODEL_INPUT),
    Rule(
        1.25,
        INF,
        0.0,
        BLURRED,
        MAX_CRISP_FACE_PX,
        0.25,
        "enlarged, not blurred: light touch",
        LIGHT_TOUCH_MAX_INPUT,
        LIGHT_TOUCH_MODEL,
    ),
    Rule(1.25, INF, 0.0, BLURRED, INF, 0.0, "large sharp face: enough pixels already"),
)


@dataclass(frozen=True)
class Decision:
    """The policy's choice for one face, with its reason."""

    policy: PolicyName
    action: Action
    strength: float  # 0 when action is "lanczos"
    reason: str
    features: FaceFeatures
    input_side: int  # longest side the model gets (== features.input_side unless shrunk)
    model: str | None = None  # the model to run instead of the configured one (None: it)


@dataclass(frozen=True)
class Policy:
    """A policy name with the user's strength cap."""

    name: PolicyName = "auto"
    max_strength: float = 0.8

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_strength": self.max_strength,
            "min_face_px": MIN_FACE_PX,
            "max_model_input": MAX_MODEL_INPUT,
            "rules": [r.__dict__ for r in RULES] if self.name == "auto" else [],
        }

    def decide(self, f: FaceFeatures) -> Decision:
        def lanczos(reason: str) -> Decision:
            return Decision(self.name, "lanczos", 0.0, reason, f, f.input_side)

        if self.max_strength <= 0:
            return lanczos("strength 0")
        if self.name == "always":
            side = min(f.input_side, MAX_MODEL_INPUT)
            note = (
                f"; input shrunk from {f.input_side} to {side} px (cost cap)"
                if side < f.input_side
                else ""
            )
            return Decision("always", "restore", self.max_strength, f"policy always{note}", f, side)
        if f.face_px < MIN_FACE_PX:
            guess = " (estimated from the crop)" if f.face_px_estimated else ""
            return lanczos(
                f"face {f.face_px:.0f} px{guess} < {MIN_FACE_PX} px minimum: not restored"
            )
        rule = next((r for r in RULES if r.matches(f)), None)
        guess = " (estimated from the crop)" if f.face_px_estimated else ""
        where = f"x{f.factor:.2f}, blur {f.blur:.2f}, face {f.face_px:.0f} px{guess}"
        if rule is None or rule.strength <= 0:
            why = rule.why if rule else "no rule"
            return lanczos(f"{where}: {why}")
        if f.input_side > rule.max_input:
            return lanczos(
                f"{where}: {rule.why} would apply, but the crop ({f.input_side} px) is over "
                f"the {rule.max_input} px the model is worth here (cost): Lanczos"
            )
        strength = min(rule.strength, self.max_strength)
        why = f"{where}: {rule.why}"
        return Decision("auto", "restore", strength, why, f, f.input_side, rule.model)


DEFAULT_POLICY = Policy()


def estimate_face_px(crop: Image) -> float:
    """Face height of a face crop made as extract makes it (head box, default padding)."""
    return float(max(crop.shape[:2])) * FACE_FRACTION_OF_CROP


def face_features(crop: Image, face_px: float | None, target: int) -> FaceFeatures:
    """The policy's view of ``crop`` restored to ``target`` px (longest side); without
    ``face_px`` the face's height is estimated from the crop, and the features say so."""
    side = int(max(crop.shape[:2]))
    estimated = face_px is None
    px = estimate_face_px(crop) if face_px is None else float(face_px)
    return FaceFeatures(px, target / side, blur_index(crop), side, estimated)
