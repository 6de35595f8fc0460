"""``--group-by-person``: each person's files in ``person{id}/``, names unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .util import VIDEOS, run_cli


def _extract(out: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(
        "extract",
        str(VIDEOS / "stage_performer.mp4"),
        "-o",
        str(out),
        "--no-face-restoration",
        "--caption",
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out / "stage_performer_info.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_person_folders_and_back(tmp_path: Path) -> None:
    info = _extract(tmp_path, "--group-by-person")
    outputs = info["outputs"]
    assert len({e["person_id"] for e in outputs}) >= 3
    for entry in outputs:
        folder, name = entry["file"].split("/")
        assert folder == f"person{entry['person_id']}"
        assert name.startswith(f"stage_performer_person{entry['person_id']}_")
        assert (tmp_path / entry["file"]).is_file()
        assert entry["caption"] == f"{folder}/{name.rsplit('.', 1)[0]}.txt"
        assert (tmp_path / entry["caption"]).is_file()
    assert not list(tmp_path.glob("*.jpg"))  # nothing left at the top level
    # The same output folder without grouping: the files move back, the folders go.
    flat = _extract(tmp_path)
    assert sorted(e["file"] for e in flat["outputs"]) == sorted(
        e["file"].split("/")[1] for e in outputs
    )
    assert all((tmp_path / e["file"]).is_file() for e in flat["outputs"])
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("person")]


@pytest.mark.slow
def test_a_person_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "person1").symlink_to(elsewhere)
    result = run_cli(
        "extract",
        str(VIDEOS / "sitting_window.mp4"),
        "-o",
        str(out),
        "--no-face-restoration",
        "--group-by-person",
    )
    assert result.returncode != 0
    assert "person1: is a link or a file, not a folder" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []
