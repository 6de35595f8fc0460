"""Config layering: defaults < file < environment < CLI, `is not None` overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from personframes.cli.options import overrides as cli_overrides
from personframes.config import Config, load_config
from personframes.errors import ConfigError

from .util import run_cli_in_process


def test_defaults_match_person_from_vid() -> None:
    config = Config()
    assert config.sampling.sample_interval == 0.25
    assert config.output.jpg_quality == 95 and config.output.format == "jpg"
    assert config.output.face_crop_padding == 0.1  # around the head box, not the face box
    assert config.output.face_restoration_policy == "auto"
    assert config.output.face_restoration is True and config.output.face_restoration_strength == 0.8


def test_precedence_file_env_cli(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "output:\n  jpg_quality: 80\n  format: png\nsampling:\n  sample_interval: 1.0\n"
    )
    env = {"PERSONFRAMES_OUTPUT__JPG_QUALITY": "70", "PERSONFRAMES_SAMPLING__MAX_FRAMES": "9"}
    cli = cli_overrides({"output__jpg_quality": 60, "output__format": None})
    config = load_config(path, cli, env)
    assert config.output.jpg_quality == 60  # CLI beats env beats file
    assert config.output.format == "png"  # file value kept: CLI gave None
    assert config.sampling.max_frames == 9  # env
    assert config.sampling.sample_interval == 1.0  # file


def test_zero_and_false_override(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"output": {"face_restoration_strength": 0.5, "full_frames": true}}')
    cli = cli_overrides({"output__face_restoration_strength": 0.0, "output__full_frames": False})
    config = load_config(path, cli, {})
    assert config.output.face_restoration_strength == 0.0
    assert config.output.full_frames is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PERSONFRAMES_OUTPUT__JPG_QUALITY": "abc"}, "output.jpg_quality (environment)"),
        ({"PERSONFRAMES_NOPE__X": "1"}, "unknown section 'nope'"),
        ({"PERSONFRAMES_OUTPUT__NOT_A_FIELD": "1"}, "output.not_a_field"),
    ],
)
def test_bad_environment_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, {}, env)


def test_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("output: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: cannot read config file"):
        load_config(path, {}, {})
    path.write_text("output:\n  jpg_quality: 101\n")
    with pytest.raises(ConfigError, match=r"output.jpg_quality \(.*bad.yaml\)"):
        load_config(path, {}, {})


def test_cache_dir_shortcut() -> None:
    config = load_config(None, {}, {"PERSONFRAMES_CACHE_DIR": "/tmp/x"})
    assert config.models.cache_dir == Path("/tmp/x")


def test_config_show_prints_merged_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("output:\n  jpg_quality: 88\n")
    result = run_cli_in_process(
        "config",
        "show",
        "--config",
        str(path),
        env={"PERSONFRAMES_SAMPLING__SAMPLE_INTERVAL": "0.5"},
    )
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["output"]["jpg_quality"] == 88
    assert shown["sampling"]["sample_interval"] == 0.5
    assert shown["output"]["format"] == "jpg"


def test_config_show_bad_value_is_one_line(tmp_path: Path) -> None:
    result = run_cli_in_process("config", "show", env={"PERSONFRAMES_OUTPUT__FORMAT": "gif"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "output.format" in result.stderr


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path: Path) -> None:
    """Found by the fuzz pass: the key was printed as it is, over two lines."""
    path = tmp_path / "config.yaml"
    path.write_text('sampling:\n  "max\\nframes": 3\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "\n" not in str(caught.value) and "max\\nframes" in str(caught.value)
