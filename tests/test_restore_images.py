"""`personframes restore` on large and unusual images: every Pillow mode read by what its
samples mean, alpha and grey written back, the pixel limit, output folders that cannot
be written, bad inputs, and the face-region-only work on a large image."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from personframes.errors import InputError
from personframes.image_file import ImageInfo, pillow_limit_off, read_image, write_like_source
from personframes.resize import STRIP_PIXELS, lanczos
from personframes.restore import FaceRestoration, ModelSession
from personframes.restore.align import paste_face, paste_face_into
from personframes.restore.settings import RestorationSettings
from personframes.types import Box, FaceDetection

from .util import IMAGES, files_in, run_cli, run_cli_in_process

LIMIT = 178_956_970  # the default of restore.max_image_pixels
NO_MODEL = ("--face-restoration-strength", "0")  # conversion only: no detector, no model


def _one_line_failure(result: subprocess.CompletedProcess[str], out: Path) -> str:
    """Exit 2, exactly one line on stderr, no traceback, nothing written."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert files_in(out) == []
    return lines[0]


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` but holds almost no data (truncated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data + chunk(b"IEND", b""))
    return path


def _photo() -> np.ndarray:
    return np.asarray(PILImage.open(IMAGES / "whole" / "lowres_portrait_b.jpg").convert("RGB"))


# -- reading every mode by what its samples mean ----------------------------------------


def test_16bit_grey_keeps_its_levels(tmp_path: Path) -> None:
    ramp = np.arange(256 * 256, dtype=np.uint32).reshape(256, 256).astype(np.uint16)
    PILImage.fromarray(ramp).save(tmp_path / "ramp.png")
    PILImage.fromarray(ramp).save(tmp_path / "ramp.tif")
    for name in ("ramp.png", "ramp.tif"):
        rgb, alpha, info = read_image(tmp_path / name, LIMIT)
        assert info.mode.startswith("I;16") and info.grey and alpha is None
        assert np.array_equal(rgb[..., 0], (ramp >> 8).astype(np.uint8))
        assert np.array_equal(rgb[..., 0], rgb[..., 2])
        assert abs(float(rgb.mean()) - 127.5) < 1.0


def test_32bit_integer_and_float_scaled_by_their_range(tmp_path: Path) -> None:
    # 16-bit data in a 32-bit mode (as a 16-bit PGM opens): its top 8 bits.
    values = np.arange(64 * 64, dtype=np.int32).reshape(64, 64) * 16
    PILImage.fromarray(values.astype(np.uint16)).save(tmp_path / "wide.pgm")
    rgb, _, info = read_image(tmp_path / "wide.pgm", LIMIT)
    assert info.mode == "I" and np.array_equal(rgb[..., 1], (values >> 8).astype(np.uint8))
    # Signed 32-bit data: its own range onto 0..255.
    signed = values - 40000
    PILImage.fromarray(signed).save(tmp_path / "signed.tif")
    rgb, _, _ = read_image(tmp_path / "signed.tif", LIMIT)
    expected = np.rint((signed - signed.min()) * 255.0 / np.ptp(signed))
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert np.abs(rgb[..., 0].astype(int) - expected).max() <= 1
    # Float within 0..1 is normalised; other floats span their range.
    unit = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    PILImage.fromarray(unit).save(tmp_path / "unit.tif")
    PILImage.fromarray(unit * 1000 - 200).save(tmp_path / "float.tif")
    for name in ("unit.tif", "float.tif"):
        rgb, _, info = read_image(tmp_path / name, LIMIT)
        assert info.mode == "F" and info.grey
        assert np.abs(rgb[..., 0].astype(int) - np.rint(unit * 255)).max() <= 1


def test_one_bit_palette_cmyk_and_48bit_colour(tmp_path: Path) -> None:
    photo = _photo()
    bits = photo[..., 0] > 128
    PILImage.fromarray(bits).save(tmp_path / "bits.png")
    rgb, _, info = read_image(tmp_path / "bits.png", LIMIT)
    assert info.mode == "1" and np.array_equal(rgb[..., 0], bits.astype(np.uint8) * 255)

    palette = PILImage.fromarray(photo).quantize(64)
    palette.save(tmp_path / "palette.png")
    rgb, alpha, info = read_image(tmp_path / "palette.png", LIMIT)
    assert info.mode == "P" and not info.grey and alpha is None
    assert np.array_equal(rgb, np.asarray(palette.convert("RGB")))

    # CMYK JPEG as Pillow writes it (with Adobe's inverted-CMYK marker): not inverted.
    PILImage.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=98)
    rgb, _, info = read_image(tmp_path / "cmyk.jpg", LIMIT)
    assert info.mode == "CMYK" and not info.grey
    assert np.abs(rgb.astype(int) - photo.astype(int)).mean() < 3.0

    deep = photo.astype(np.uint16) * 257 + 100  # 16 bits per channel
    cv2.imwrite(str(tmp_path / "deep.png"), np.ascontiguousarray(deep[..., ::-1]))
    rgb, _, _ = read_image(tmp_path / "deep.png", LIMIT)
    assert np.array_equal(rgb, (deep >> 8).astype(np.uint8))


def test_transparency_becomes_an_alpha_plane(tmp_path: Path) -> None:
    photo = _photo()
    ramp = np.tile(np.arange(photo.shape[1], dtype=np.uint8), (photo.shape[0], 1))
    PILImage.fromarray(np.dstack([photo, ramp])).save(tmp_path / "rgba.png")
    rgb, alpha, _ = read_image(tmp_path / "rgba.png", LIMIT)
    assert np.array_equal(rgb, photo) and alpha is not None and np.array_equal(alpha, ramp)

    grey = photo[..., 1]
    PILImage.fromarray(np.dstack([grey, ramp])).save(tmp_path / "la.png")
    rgb, alpha, info = read_image(tmp_path / "la.png", LIMIT)
    assert info.grey and np.array_equal(rgb[..., 2], grey)
    assert alpha is not None and np.array_equal(alpha, ramp)

    palette = PILImage.fromarray(photo).quantize(32)
    palette.save(tmp_path / "keyed.png", transparency=0)
    _, alpha, _ = read_image(tmp_path / "keyed.png", LIMIT)
    indices = np.asarray(palette)
    assert alpha is not None and np.array_equal(alpha == 0, indices == 0)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path: Path, orientation: int) -> None:
    photo = _photo()[:90, :160]  # not square, not symmetric
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.png"
    PILImage.fromarray(photo).save(path, exif=exif)
    rgb, _, _ = read_image(path, LIMIT)
    with PILImage.open(path) as handle:
        expected = np.asarray(ImageOps.exif_transpose(handle).convert("RGB"))
    assert np.array_equal(rgb, expected)


def test_large_image_read_in_strips_equals_whole_conversion(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    big = PILImage.fromarray(rng.integers(0, 256, (4000, 6000), dtype=np.uint8))
    big.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())  # a palette image
    big.save(tmp_path / "big.png", compress_level=1)
    rgb, _, info = read_image(tmp_path / "big.png", LIMIT)
    assert info.mode == "P"
    with PILImage.open(tmp_path / "big.png") as handle:
        assert np.array_equal(rgb, np.asarray(handle.convert("RGB")))


def test_lanczos_in_strips_equals_one_resize() -> None:
    image = np.random.default_rng(4).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    size = (4000, 3000)
    assert size[0] * size[1] > STRIP_PIXELS  # the strip path
    expected = np.asarray(PILImage.fromarray(image).resize(size, PILImage.Resampling.LANCZOS))
    assert np.array_equal(lanczos(image, size), expected)
    alpha = image[..., 0]
    expected_alpha = np.asarray(PILImage.fromarray(alpha).resize(size, PILImage.Resampling.LANCZOS))
    assert np.array_equal(lanczos(alpha, size), expected_alpha)


# -- writing back -----------------------------------------------------------------------


def test_write_back_keeps_alpha_grey_and_profile(tmp_path: Path) -> None:
    photo = _photo()
    alpha = np.full(photo.shape[:2], 128, np.uint8)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    colour = ImageInfo("RGBA", "PNG", grey=False, icc_profile=srgb)
    write_like_source(tmp_path / "a.png", photo, alpha, colour)
    with PILImage.open(tmp_path / "a.png") as written:
        assert written.mode == "RGBA" and written.info.get("icc_profile") == srgb
        assert np.array_equal(np.asarray(written), np.dstack([photo, alpha]))
    write_like_source(tmp_path / "a.jpg", photo, alpha, colour)  # JPEG has no alpha
    with PILImage.open(tmp_path / "a.jpg") as written:
        assert written.mode == "RGB" and written.info.get("icc_profile") == srgb

    grey = np.repeat(photo[..., :1], 3, axis=2)
    write_like_source(tmp_path / "g.png", grey, None, ImageInfo("I;16", "PNG", True, None))
    with PILImage.open(tmp_path / "g.png") as written:
        assert written.mode == "L" and np.array_equal(np.asarray(written), photo[..., 0])

    cmyk = ImageInfo("CMYK", "JPEG", grey=False, icc_profile=None)
    write_like_source(tmp_path / "c.jpg", photo, None, cmyk)
    with PILImage.open(tmp_path / "c.jpg") as written:
        assert written.mode == "RGB" and "icc_profile" not in written.info
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.png", "c.jpg", "g.png"]


# -- the CLI ----------------------------------------------------------------------------


def test_cli_16bit_grey_png_comes_out_with_its_levels(tmp_path: Path) -> None:
    ramp = np.arange(256 * 256, dtype=np.uint32).reshape(256, 256).astype(np.uint16)
    PILImage.fromarray(ramp).save(tmp_path / "ramp.png")
    out = tmp_path / "out"
    result = run_cli("restore", str(tmp_path / "ramp.png"), "-o", str(out), *NO_MODEL)
    assert result.returncode == 0, result.stderr
    # Nothing restored at its own size: the input's own bytes (16 bits kept).
    assert (out / "ramp.png").read_bytes() == (tmp_path / "ramp.png").read_bytes()
    big = tmp_path / "big"
    args = ("restore", str(tmp_path / "ramp.png"), "-o", str(big), "--upscale", "2")
    result = run_cli(*args, *NO_MODEL)
    assert result.returncode == 0, result.stderr
    with PILImage.open(big / "ramp.png") as written:
        assert written.mode == "L" and written.size == (512, 512)  # grey in, grey out
        levels = np.asarray(written)
    assert abs(float(levels.mean()) - float((ramp >> 8).mean())) < 1.0


def test_cli_alpha_kept(tmp_path: Path) -> None:
    photo = _photo()
    ramp = np.tile(np.arange(photo.shape[1], dtype=np.uint8), (photo.shape[0], 1))
    PILImage.fromarray(np.dstack([photo, ramp])).save(tmp_path / "rgba.png")
    PILImage.fromarray(photo).quantize(32).save(tmp_path / "keyed.png", transparency=0)
    out = tmp_path / "out"
    result = run_cli("restore", str(tmp_path), "-o", str(out), *NO_MODEL, "--upscale", "2")
    assert result.returncode == 0, result.stderr
    with PILImage.open(out / "rgba.png") as written:
        assert written.mode == "RGBA" and written.size == (photo.shape[1] * 2, photo.shape[0] * 2)
        upscaled = lanczos(ramp, written.size)
        assert np.array_equal(np.asarray(written)[..., 3], upscaled)
    with PILImage.open(out / "keyed.png") as written:
        assert written.mode == "RGBA" and np.asarray(written)[..., 3].min() == 0


@pytest.mark.slow
def test_cli_image_over_the_pixel_limit(tmp_path: Path) -> None:
    huge = _png_header(tmp_path / "huge.png", 13500, 13500)  # 182 MP; header only
    out = tmp_path / "out"
    line = _one_line_failure(run_cli("restore", str(huge), "-o", str(out)), out)
    assert "huge.png" in line and "182,250,000 pixels" in line and "178,956,970" in line
    assert "--max-image-pixels" in line and "PERSONFRAMES_RESTORE__MAX_IMAGE_PIXELS" in line

    small = tmp_path / "small.png"
    PILImage.fromarray(_photo()).save(small)  # 400 x 225 = 90,000 pixels
    line = _one_line_failure(
        run_cli("restore", str(small), "-o", str(out), "--max-image-pixels", "50000"), out
    )
    assert "90,000 pixels" in line and "50,000" in line
    env = {"PERSONFRAMES_RESTORE__MAX_IMAGE_PIXELS": "50000"}
    line = _one_line_failure(run_cli("restore", str(small), "-o", str(out), env=env), out)
    assert "50,000" in line
    raised = run_cli(
        "restore", str(small), "-o", str(out), *NO_MODEL, "--max-image-pixels", "90000", env=env
    )
    assert raised.returncode == 0, raised.stderr  # the flag beats the environment


def test_cli_no_pillow_warning_between_its_limits(tmp_path: Path) -> None:
    # 95 MP: over Pillow's warning threshold (89.5 MP), under ours; truncated data.
    image = _png_header(tmp_path / "wide.png", 10000, 9500)
    out = tmp_path / "out"
    line = _one_line_failure(run_cli("restore", str(image), "-o", str(out), *NO_MODEL), out)
    assert "wide.png: cannot decode image" in line


def test_cli_output_larger_than_its_format_holds(tmp_path: Path) -> None:
    strip = np.tile(_photo()[:8, :300], (1, 30, 1))  # 9000 x 8: WebP holds 16383 a side
    PILImage.fromarray(strip).save(tmp_path / "strip.webp")
    out = tmp_path / "out"
    result = run_cli("restore", str(tmp_path / "strip.webp"), "-o", str(out), "--upscale", "2")
    line = _one_line_failure(result, out)
    assert "18000 x 16 is more than WEBP holds" in line


def test_cli_two_inputs_with_one_output_name_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        PILImage.fromarray(_photo()).save(tmp_path / folder / "photo.png")
    out = tmp_path / "out"
    result = run_cli_in_process("restore", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out))
    line = _one_line_failure(result, out)
    assert "photo.png" in line and not out.exists()


# -- a large image: only the face's region is worked on ---------------------------------


def test_paste_into_touches_only_the_face_region() -> None:
    image = np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    face = np.full((64, 64, 3), 200, np.uint8)
    matrix = np.array([[0.5, 0.0, -100.0], [0.0, 0.5, -50.0]])  # face at (200..328, 100..228)
    expected = paste_face(image, face, matrix)
    target = image.copy()
    paste_face_into(target, face, matrix)
    assert np.array_equal(target, expected)
    changed = np.argwhere((target != image).any(axis=2))
    assert changed[:, 0].min() >= 98 and changed[:, 0].max() < 230
    assert changed[:, 1].min() >= 198 and changed[:, 1].max() < 330


def test_face_on_a_large_image_restored_as_on_a_small_one() -> None:
    portrait = _photo()
    h, w = portrait.shape[:2]
    margin = 200  # more than the aligned face and the ring the paste measures reach
    small = np.full((h + 2 * margin, w + 2 * margin, 3), 90, np.uint8)
    small[margin : margin + h, margin : margin + w] = portrait
    big = np.full((4000, 6000, 3), 90, np.uint8)
    y, x = 2100, 3300  # where ``small`` lies in ``big``
    big[y : y + small.shape[0], x : x + small.shape[1]] = small

    def face_at(dx: int, dy: int) -> FaceDetection:  # the portrait's face, 52 px high
        return FaceDetection(box=Box(160.0 + dx, 48.0 + dy, 202.0 + dx, 100.0 + dy), score=0.9)

    restoration = FaceRestoration(session=ModelSession())
    # Where the restored face lands, not whether it is kept: the identity check is off
    # (forced onto this 52 px face, the model moves it 0.45, past the drift limit).
    options = RestorationSettings(policy="always", device="cpu", max_drift=None)
    one = restoration.restore(small, options, faces=[face_at(margin, margin)])
    many = restoration.restore(big, options, faces=[face_at(x + margin, y + margin)])
    assert one.faces[0].result.restored and many.faces[0].result.restored
    assert not np.array_equal(one.image, small)
    region = (slice(y, y + small.shape[0]), slice(x, x + small.shape[1]))
    # The same face, the same pixels, but for float rounding of the alignment at other
    # coordinates (one level on a couple of the ~4700 pixels the paste changes).
    diff = np.abs(many.image[region].astype(int) - one.image.astype(int))
    assert diff.max() <= 1 and np.count_nonzero(diff) < 50
    rest = many.image.copy()
    rest[region] = 90
    assert (rest == 90).all()  # nothing else touched
    assert many.image.dtype == np.uint8 and many.image.shape == big.shape


def test_read_image_refuses_folder_and_limit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        read_image(tmp_path, LIMIT)
    huge = _png_header(tmp_path / "huge.png", 20000, 20000)
    with pillow_limit_off(), pytest.raises(InputError, match="400,000,000 pixels"):
        read_image(huge, LIMIT)
    with pytest.raises(InputError, match=r"400000000 pixels.*PIL\.Image\.MAX_IMAGE_PIXELS"):
        read_image(huge, 10**12)  # Pillow's own limit, left on, refuses it first
