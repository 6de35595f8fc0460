"""Engine contract: the same test body for every installed engine, on real weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from personframes.errors import ModelError
from personframes.models import get_model, resolve_model
from personframes.models.cache import ResolvedModel
from personframes.restore.engines import ENGINES, Engine, available_engines, create_engine
from personframes.restore.loading import add_engine
from personframes.restore.settings import RestorationSettings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HAS_TORCH = importlib.util.find_spec("torch") is not None
INSTALLED = [name for name, cls in available_engines().items() if cls is not None]


def _crop(size: int = 24) -> np.ndarray:
    image = np.asarray(PILImage.open(DATA / "images/whole/lowres_portrait_b.jpg").convert("RGB"))
    return np.ascontiguousarray(image[60 : 60 + size, 150 : 150 + size])


@pytest.fixture(scope="module")
def x4plus() -> ResolvedModel:
    return resolve_model(get_model("realesrgan-x4plus"))


@pytest.fixture(scope="module")
def engines(x4plus: ResolvedModel) -> dict[str, Engine]:
    loaded = {}
    for name in INSTALLED:
        engine = create_engine(name)
        engine.load(x4plus, "cpu")
        loaded[name] = engine
    return loaded


def test_availability_map_lists_every_engine_with_a_hint() -> None:
    available = available_engines()
    assert set(available) == set(ENGINES) >= {"ncnn", "torch"}
    assert available["ncnn"] is not None
    entry = ENGINES.lookup("torch")
    assert "personframes[torch]" in entry.hint


@pytest.mark.parametrize("name", INSTALLED)
def test_engine_contract_real_x4plus(name: str, engines: dict[str, Engine]) -> None:
    engine = engines[name]
    crop = _crop(24)
    out = engine.run(crop)
    assert name == engine.NAME and engine.device == "cpu" and engine.scale == 4
    assert out.dtype == np.uint8 and out.shape == (96, 96, 3)
    assert np.array_equal(engine.run(crop), out)  # deterministic
    # Plausible super-resolution: its box-downscale is close to the input.
    small = out.reshape(24, 4, 24, 4, 3).mean(axis=(1, 3))
    assert np.abs(small - crop.astype(np.float64)).mean() < 12


@pytest.mark.skipif(len(INSTALLED) < 2, reason="needs two engines")
def test_engines_agree_on_the_same_weights(engines: dict[str, Engine]) -> None:
    crop = _crop(24)
    outs = [engines[name].run(crop).astype(np.int16) for name in INSTALLED]
    for other in outs[1:]:
        assert np.abs(outs[0] - other).max() <= 2


@pytest.mark.parametrize("name", INSTALLED)
def test_engine_tiling_matches_whole_image(name: str, engines: dict[str, Engine]) -> None:
    engine = engines[name]
    crop = _crop(40)
    whole = engine.run(crop).astype(np.int16)
    saved = engine.tile, engine.tile_pad  # type: ignore[attr-defined]
    engine.tile, engine.tile_pad = 24, 10  # type: ignore[attr-defined]
    try:
        tiled = engine.run(crop).astype(np.int16)
    finally:
        engine.tile, engine.tile_pad = saved  # type: ignore[attr-defined]
    assert whole.shape == tiled.shape == (160, 160, 3)
    assert np.abs(whole - tiled).mean() < 1.0


# --- .pth round trips: randomly initialised networks of the real architectures -------

pytestmark_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")


def _round_trip(model_id: str, tmp_path: Path, key: str) -> tuple[Engine, Any]:
    import torch

    from personframes.restore.archs import build_arch

    spec = get_model(model_id)
    torch.manual_seed(0)
    net = build_arch(spec.arch)
    path = tmp_path / spec.files[0].name
    torch.save({key: net.state_dict()}, path)
    engine = create_engine("torch")
    # Bypass the pinned hash (these are not the published weights) but use the real loader.
    engine.load(ResolvedModel(spec, {spec.files[0].name: path}), "cpu")
    return engine, net


@pytestmark_torch
def test_rrdbnet_pth_round_trip(tmp_path: Path) -> None:
    import torch

    engine, net = _round_trip("realesrgan-x4plus-pth", tmp_path, "params_ema")
    crop = _crop(16)
    out = engine.run(crop)
    assert out.shape == (64, 64, 3)
    x = torch.from_numpy(crop.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        ref = net.eval()(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    assert np.abs(out.astype(np.float32) - np.rint(ref * 255)).max() <= 1


@pytestmark_torch
@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_id", "key"), [("gfpgan-v1.4", "params_ema"), ("codeformer", "params")]
)
def test_face_model_pth_round_trip(model_id: str, key: str, tmp_path: Path) -> None:
    engine, _ = _round_trip(model_id, tmp_path, key)
    face = np.asarray(
        PILImage.open(DATA / "images/faces/aligned_0143.png").convert("RGB"), dtype=np.uint8
    )
    out = engine.run(face, fidelity=0.7)
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8


@pytestmark_torch
def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    import torch

    spec = get_model("realesrgan-x4plus-pth")
    path = tmp_path / spec.files[0].name
    torch.save({"params_ema": {"x": object()}}, path)  # not loadable with weights_only
    engine = create_engine("torch")
    with pytest.raises(ModelError, match="personframes models fetch realesrgan-x4plus-pth"):
        engine.load(ResolvedModel(spec, {spec.files[0].name: path}), "cpu")


@pytestmark_torch
def test_torch_cuda_oom_mock_cuda_retries_tiled_then_cpu(
    engines: dict[str, Engine], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mock_cuda: a network that raises CUDA OOM on whole inputs, then on tiles."""
    import torch

    engine = engines["torch"]
    real = engine.net  # type: ignore[attr-defined]
    saved = engine.tile, engine.tile_pad  # type: ignore[attr-defined]
    calls: list[tuple[int, str]] = []

    class OomOnCuda(torch.nn.Module):
        def restore(self, x: torch.Tensor, fidelity: float | None = None) -> torch.Tensor:
            calls.append((x.shape[-1], engine.device))
            if engine.device != "cpu":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (mock)")
            out: torch.Tensor = real.restore(x, fidelity)
            return out

    engine.net = OomOnCuda()  # type: ignore[attr-defined]
    engine.device = "cuda:0"  # tensors stay on the CPU; the engine believes it is on CUDA
    engine.tile, engine.tile_pad = 16, 4  # type: ignore[attr-defined]
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    try:
        out = engine.run(_crop(24))
    finally:
        engine.net = real  # type: ignore[attr-defined]
        engine.tile, engine.tile_pad = saved  # type: ignore[attr-defined]
    assert out.shape == (96, 96, 3) and engine.device == "cpu"
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("retrying in 16 px tiles" in m for m in messages)
    assert any("moving realesrgan-x4plus to the CPU" in m for m in messages)
    assert calls[0] == (24, "cuda:0")  # the whole input on "CUDA"
    assert calls[1] == (20, "cuda:0")  # then a 16 px tile with 4 px context
    assert all(device == "cpu" for _, device in calls[2:])  # then tiles on the CPU


@pytestmark_torch
@pytest.mark.slow
def test_fidelity_reaches_codeformer_without_aligned(tmp_path: Path) -> None:
    """`restore --fidelity` once reached the model only with --aligned: whole images
    (faces found, aligned, pasted back) must use it too. Real CodeFormer architecture,
    seeded weights through the real loader."""
    from personframes.models.session import ModelSession
    from personframes.restore.api import FaceRestoration

    engine, _ = _round_trip("codeformer", tmp_path, "params")
    session = ModelSession(tmp_path)
    add_engine(session, "codeformer", "cpu", engine)
    image = np.asarray(PILImage.open(DATA / "images/faces/aligned_0143.png").convert("RGB"))
    small = np.asarray(PILImage.fromarray(image).resize((256, 256), PILImage.Resampling.LANCZOS))
    restoration = FaceRestoration(session)
    outs = [  # seeded weights paint noise, which the identity check rightly refuses: off
        restoration.restore(
            small,
            RestorationSettings(
                strength=1.0,
                model="codeformer",
                device="cpu",
                policy="always",
                fidelity=w,
                max_drift=None,
            ),
        )
        for w in (0.0, 1.0)
    ]
    assert all(len(o.faces) == 1 and o.faces[0].result.restored for o in outs)
    assert not np.array_equal(outs[0].image, outs[1].image)


def test_a_catalogue_entry_is_all_a_new_sr_model_needs() -> None:
    """The restoration-model recipe (ARCHITECTURE.md): realesrgan-x4plus-anime was added
    as one catalogue entry; it resolves, verifies and restores through the real seam."""
    from personframes.models.session import ModelSession
    from personframes.restore.restorer import create_restorer

    restorer = create_restorer(
        ModelSession(),
        RestorationSettings(
            model="realesrgan-x4plus-anime", device="cpu", policy="always", max_drift=None
        ),
    )
    crop = _crop(32)
    result = restorer.restore_crop(crop, 128, 1.0, face_px=32.0)
    assert result.restored and result.model == "realesrgan-x4plus-anime"
    assert result.image.shape == (128, 128, 3) and result.model_input == (32, 32)
    assert result.departure_db is not None and result.departure_db < 60  # not Lanczos alone
