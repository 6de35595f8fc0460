"""Person From Vid's option names and config files run unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image as PILImage

from personframes import __version__
from personframes.compat import PFV_FIELDS
from personframes.config import load_config
from personframes.errors import ConfigError

from .util import VIDEOS, run_cli, run_cli_in_process

CONFIGURATION = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"

THEIRS = """\
models:
  device: cpu
  confidence_threshold: 0.5
  face_detection_model: yolov8s-face
frame_extraction:
  temporal_sampling_interval: 0.5
  max_frames_per_video: 4
pose_classification:
  standing_hip_knee_angle_min: 155
head_angle:
  profile_yaw_threshold: 70
closeup_detection:
  closeup_threshold: 0.2
frame_selection:
  min_quality_threshold: 0.1
person_selection:
  temporal_diversity_threshold: 2.0
output:
  min_frames_per_category: 2
  image:
    format: jpeg
    face_crop_enabled: false
    face_restoration_enabled: false
    png:
      optimize: true
    jpeg:
      quality: 90
storage:
  cache_directory: {cache}
processing:
  force_restart: true
logging:
  level: WARNING
"""


def test_their_config_file_is_read_as_ours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "theirs.yaml"
    path.write_text(THEIRS.format(cache=tmp_path / "cache"))
    config = load_config(path, environ={})
    assert config.models.confidence == 0.5 and config.models.device == "cpu"
    assert (config.sampling.sample_interval, config.sampling.max_frames) == (0.5, 4)
    assert config.pose.standing_min_angle == 155 and config.head_angle.yaw_profile == 70
    assert config.quality.threshold == 0.1 and config.selection.min_seconds_apart == 2.0
    assert config.selection.min_frames_per_category == 2
    out = config.output
    assert (out.format, out.face_crops, out.face_restoration) == ("jpg", False, False)
    assert out.png_optimize and out.jpg_quality == 90
    assert config.models.cache_dir == tmp_path / "cache"
    assert config.pipeline.force and config.logging.log_level == "WARNING"
    warned = [r.getMessage() for r in caplog.records if "no equivalent" in r.getMessage()]
    assert len(warned) == 1
    assert "models.face_detection_model" in warned[0]
    assert "closeup_detection.closeup_threshold" in warned[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "frame_selection:\n  min_quality_threshold: 0.1\n"
            "person_selection:\n  min_quality_threshold: 0.3\n",
            "frame_selection.min_quality_threshold and "
            "person_selection.min_quality_threshold both set quality.threshold",
        ),
        (
            "sampling:\n  max_frames: 3\nframe_extraction:\n  max_frames_per_video: 4\n",
            "sampling.max_frames and frame_extraction.max_frames_per_video both set",
        ),
        ("frame_extraction:\n  nope: 1\n", "unknown Person From Vid setting frame_extraction.nope"),
        ("output:\n  image:\n    nope: 1\n", "unknown Person From Vid setting output.image.nope"),
    ],
)
def test_their_config_errors_name_the_settings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(path, environ={})


def test_their_options_run_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = tmp_path / "theirs.yaml"
    config.write_text("frame_extraction:\n  max_frames_per_video: 4\n")
    result = run_cli(
        "extract",
        str(VIDEOS / "sitting_window.mp4"),
        "-o",
        str(out),
        "-c",
        str(config),
        "-l",
        "WARNING",
        "--output-format",
        "jpeg",
        "--output-jpeg-quality",
        "80",
        "--no-output-face-crop-enabled",
        "--no-output-png-optimize",
        "--batch-size",
        "4",
        "--no-structured-output",
        "--no-face-restoration",
    )
    assert result.returncode == 0, result.stderr
    assert "INFO" not in result.stderr  # -l WARNING
    info = json.loads((out / "sitting_window_info.json").read_text())
    assert info["config"]["sampling"]["max_frames"] == 4  # from their config file, via -c
    output = info["config"]["output"]
    assert (output["format"], output["jpg_quality"], output["face_crops"]) == ("jpg", 80, False)
    assert info["config"]["models"]["batch_size"] == 4
    files = [o["file"] for o in info["outputs"]]
    assert files and all(f.endswith(".jpg") and "_face_" not in f for f in files)


@pytest.mark.slow
def test_png_optimize_and_webp(tmp_path: Path) -> None:
    args = [str(VIDEOS / "sitting_window.mp4"), "--max-frames", "3", "--no-face-restoration"]
    plain, small = tmp_path / "plain", tmp_path / "small"
    result = run_cli("extract", *args, "-o", str(plain), "--output-format", "png")
    assert result.returncode == 0, result.stderr
    shutil.copytree(plain, small, symlinks=True)  # the scan is kept: only the files change
    result = run_cli(
        "extract", *args, "-o", str(small), "--output-format", "png", "--output-png-optimize"
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in plain.glob("*.png"))
    assert names and names == sorted(p.name for p in small.glob("*.png"))
    for name in names:  # the same pixels, never larger
        with PILImage.open(plain / name) as a, PILImage.open(small / name) as b:
            assert a.tobytes() == b.tobytes()
        assert (small / name).stat().st_size <= (plain / name).stat().st_size
    webp = plain  # a rerun in another format
    result = run_cli("extract", *args, "-o", str(webp), "--output-format", "webp")
    assert result.returncode == 0, result.stderr
    written = sorted(webp.glob("*.webp"))
    assert written
    with PILImage.open(written[0]) as image:
        assert image.format == "WEBP"


@pytest.mark.parametrize("command", ["extract", "restore"])
def test_version_after_a_command(command: str) -> None:
    result = run_cli_in_process(command, "--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_the_configuration_page_lists_every_config_mapping() -> None:
    text = CONFIGURATION.read_text()
    for (section, field), ours in PFV_FIELDS.items():
        name = f"`{section}.{field}`"
        assert name in text, name
        if ours is not None:
            assert f"| {name} | `{ours[0]}.{ours[1]}` |" in text
