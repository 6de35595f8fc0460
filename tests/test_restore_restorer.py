"""FaceRestorer, restore_faces() and `personframes restore`: real images, real ncnn model."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from personframes.cli.restore import restore as restore_cli
from personframes.errors import InputError, ModelError
from personframes.models import get_model
from personframes.models.cache import package_path
from personframes.models.catalogue import DEFAULT_MODEL
from personframes.resize import fit_longest, lanczos
from personframes.restore import FaceRestoration, ModelSession, create_restorer, target_size_for
from personframes.restore.align import (
    FFHQ_TEMPLATE_512,
    alignment_matrix,
    paste_face,
    warp_face,
)
from personframes.restore.restorer import blend
from personframes.restore.settings import RestorationSettings
from personframes.types import Box, FaceDetection

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PORTRAIT = DATA / "images/whole/lowres_portrait_b.jpg"


def _image(path: Path = PORTRAIT) -> np.ndarray:
    return np.asarray(PILImage.open(path).convert("RGB"))


def _crop() -> np.ndarray:  # 48 x 40 px around the face of the portrait
    return np.ascontiguousarray(_image()[50:98, 160:200])


@pytest.fixture(autouse=True)
def _propagate() -> Iterator[None]:
    logger = logging.getLogger("personframes")
    saved = logger.propagate
    logger.propagate = True
    yield
    logger.propagate = saved


@pytest.fixture(scope="module")
def session() -> ModelSession:
    return ModelSession()


def test_target_size() -> None:
    assert target_size_for(None) == 512 and target_size_for(384) == 512
    assert target_size_for(1024) == 1024
    assert fit_longest(40, 48, 512) == (427, 512)


def test_strength_zero_is_lanczos_bit_for_bit_and_loads_nothing(tmp_path: Path) -> None:
    crop = _crop()
    restorer = create_restorer(
        ModelSession(tmp_path), RestorationSettings(model="gfpgan-v1.4", device="cpu")
    )  # not installed
    result = restorer.restore_crop(crop, 512, 0.0)
    expected = np.asarray(PILImage.fromarray(crop).resize((427, 512), PILImage.Resampling.LANCZOS))
    assert np.array_equal(result.image, expected)
    assert not result.fell_back and result.device == "none"
    assert restorer.session.loaded() == []


def test_blend_formula_with_real_model(session: ModelSession) -> None:
    restorer = create_restorer(session, RestorationSettings(model=DEFAULT_MODEL, device="cpu"))
    crop = _crop()
    full = restorer.restore_crop(crop, 512, 1.0, policy="always")
    assert not full.fell_back and full.device == "cpu" and full.image.shape == (512, 427, 3)
    assert full.model_input == (40, 48)  # the crop at its native size
    none = restorer.restore_crop(crop, 512, 0.0).image
    half = restorer.restore_crop(crop, 512, 0.5, policy="always").image
    expected = np.rint(0.5 * full.image.astype(np.float64) + 0.5 * none.astype(np.float64))
    assert np.array_equal(half, expected.astype(np.uint8))
    assert np.array_equal(blend(full.image, none, 0.5), half)
    # The model adds detail Lanczos cannot: more high-frequency energy.
    lap = [float(np.var(np.diff(img.astype(np.float64), 2, axis=0))) for img in (full.image, none)]
    assert lap[0] > 1.5 * lap[1]
    # Loaded once, reused: on the engine chosen here (beside it, the identity model).
    (loaded,) = [k for k in session.loaded() if isinstance(k, tuple) and k[0] == "engine"]
    assert loaded[:3] == ("engine", "realesrgan-x4plus", "cpu")


def test_corrupt_model_falls_back_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = get_model("realesrgan-x4plus")
    folder = tmp_path / spec.id
    folder.mkdir()
    for file in spec.files:  # a cached copy takes precedence over the package's
        src = package_path(file)
        assert src is not None
        shutil.copy(src, folder / file.name)
    bad = folder / "realesrgan-x4plus.bin"
    data = bytearray(bad.read_bytes())
    data[1000:1100] = b"\0" * 100
    bad.write_bytes(bytes(data))

    restorer = create_restorer(
        ModelSession(tmp_path), RestorationSettings(model=DEFAULT_MODEL, device="cpu")
    )
    with pytest.raises(ModelError) as info:
        restorer.load()
    assert str(bad) in str(info.value)
    assert "personframes models fetch realesrgan-x4plus" in str(info.value)

    caplog.clear()
    crop = _crop()
    result = restorer.restore_crop(crop, 512, 0.8, policy="always")
    assert result.fell_back and result.reason and "personframes models fetch" in result.reason
    assert np.array_equal(result.image, lanczos(crop, (427, 512)))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Lanczos" in warnings[0].getMessage()


def test_bad_inputs_raise_input_error() -> None:
    restorer = create_restorer(ModelSession(), RestorationSettings(model=DEFAULT_MODEL))
    with pytest.raises(InputError):
        restorer.restore_crop(np.zeros((8, 8), np.uint8), 512, 0.5)
    with pytest.raises(InputError):
        restorer.restore_crop(_crop(), 512, 1.5)


def test_alignment_round_trip_and_paste_is_identity_for_unchanged_face() -> None:
    points = FFHQ_TEMPLATE_512 * 0.25 + np.array([30, 10], dtype=np.float32)
    matrix = alignment_matrix(points, 128)
    np.testing.assert_allclose(matrix[:, :2], np.eye(2), atol=1e-3)
    image = _image()
    face = warp_face(image, matrix, 128)
    pasted = paste_face(image, face, matrix, source_face=face)
    assert np.abs(pasted.astype(int) - image.astype(int)).max() <= 3


class _FixedDetector:
    """One known face of the portrait (five keypoints measured by CenterFace)."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        self.calls += 1
        keypoints = {
            "left_eye": (141.0, 91.0),
            "right_eye": (188.0, 90.0),
            "nose": (170.0, 119.0),
            "mouth_left": (141.0, 139.0),
            "mouth_right": (180.0, 139.0),
        }
        return [FaceDetection(Box(103, 30, 204, 174), 0.95, keypoints, "fixed")]


@pytest.mark.slow
def test_restore_faces_same_size_local_and_thread_safe(session: ModelSession) -> None:
    image = _image()
    restoration = FaceRestoration(session=session, detector=_FixedDetector())
    result = restoration.restore(image, RestorationSettings(device="cpu", policy="always"))
    out = result.image
    assert out.shape == image.shape and out.dtype == np.uint8
    assert len(result.faces) == 1 and not result.faces[0].fell_back
    diff = np.abs(out.astype(int) - image.astype(int)).sum(axis=2)
    assert diff[80:150, 130:195].mean() > 1.0  # the face changed
    assert diff[:, :40].max() == 0 and diff[:, 300:].max() == 0  # far away: untouched
    # colour matched: the face keeps its mean colour
    region = (slice(80, 150), slice(130, 195))
    assert np.abs(out[region].mean((0, 1)) - image[region].mean((0, 1))).max() < 4
    # strength 0: unchanged
    assert np.array_equal(
        restoration.restore(image, RestorationSettings(strength=0.0, device="cpu")).image, image
    )
    # the default policy leaves this sharp, native-size face alone
    auto = restoration.restore(image, RestorationSettings(device="cpu"))
    assert np.array_equal(auto.image, image) and auto.faces[0].result.decision is not None
    # concurrent calls give the same result as the sequential one
    outs: list[np.ndarray] = []
    threads = [
        threading.Thread(
            target=lambda: outs.append(
                restoration.restore(image, RestorationSettings(device="cpu", policy="always")).image
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outs) == 2 and all(np.array_equal(o, out) for o in outs)


def test_cli_restore_writes_refuses_overwrite_and_bad_images(tmp_path: Path) -> None:
    runner = CliRunner()
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(_image()[40:120, 140:220]).save(src / "face.png")
    out = tmp_path / "out"
    ok = runner.invoke(
        restore_cli,
        [str(src), "-o", str(out), "--device", "cpu", "--face-restoration-strength", "0"],
    )
    assert ok.exit_code == 0, ok.output
    written = np.asarray(PILImage.open(out / "face.png"))
    assert written.shape == (80, 80, 3)
    assert sorted(p.name for p in out.iterdir()) == ["face.png"]  # no temp files left

    same = runner.invoke(restore_cli, [str(src / "face.png"), "-o", str(src)])
    assert same.exit_code != 0 and isinstance(same.exception, InputError)
    assert "overwrite" in str(same.exception)

    (src / "broken.jpg").write_bytes(b"not a jpeg")
    bad = runner.invoke(
        restore_cli, [str(src / "broken.jpg"), "-o", str(out), "--face-restoration-strength", "0"]
    )
    assert isinstance(bad.exception, InputError) and "broken.jpg" in str(bad.exception)


def test_cli_restore_aligned_face_with_real_model(tmp_path: Path) -> None:
    face = _image(DATA / "images/faces/aligned_0143.png")
    small = tmp_path / "small.png"
    PILImage.fromarray(lanczos(face, (48, 48))).save(small)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        restore_cli, [str(small), "-o", str(out), "--aligned", "--upscale", "4", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert np.asarray(PILImage.open(out / "small.png")).shape == (192, 192, 3)


def test_identity_check_of_a_restored_face(
    session: ModelSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The real model on a real 64 px face: its identity distance from the Lanczos resize
    is measured; a limit below it refuses the result for the Lanczos face (a WARNING)."""
    face = np.asarray(PILImage.open(DATA / "images/faces/aligned_0240.png").convert("RGB"))
    crop = lanczos(face, (64, 64))
    points = FFHQ_TEMPLATE_512 * (64 / 512.0)
    kept = create_restorer(
        session, RestorationSettings(model=DEFAULT_MODEL, policy="always", max_drift=2.0)
    )
    restored = kept.restore_crop(crop, 512, 0.8, landmarks=points, face_px=44)
    assert restored.restored and not restored.identity_drift
    distance = restored.identity_distance
    assert distance is not None and 0.0 < distance < 2.0
    assert restored.record()["identity_distance"] == distance
    strict = create_restorer(
        session, RestorationSettings(model=DEFAULT_MODEL, policy="always", max_drift=distance / 2)
    )
    with caplog.at_level(logging.WARNING, logger="personframes"):
        refused = strict.restore_crop(crop, 512, 0.8, landmarks=points, face_px=44)
    assert refused.identity_drift and refused.fell_back and not refused.restored
    assert refused.identity_distance == distance
    assert "identity drift" in str(refused.reason)
    assert np.array_equal(refused.image, lanczos(crop, (512, 512)))
    assert any("using Lanczos only" in r.getMessage() for r in caplog.records)
    unchecked = create_restorer(
        session, RestorationSettings(model=DEFAULT_MODEL, policy="always", max_drift=None)
    )
    assert unchecked.restore_crop(crop, 512, 0.8, landmarks=points).identity_distance is None


@pytest.mark.slow
def test_restore_faces_reports_each_faces_identity_distance(session: ModelSession) -> None:
    report = FaceRestoration(session).restore(_image(), RestorationSettings(policy="always"))
    assert report.faces
    for face in report.faces:
        record = face.record()
        assert "identity_distance" in record
        if face.result.restored:
            assert record["identity_distance"] is not None
