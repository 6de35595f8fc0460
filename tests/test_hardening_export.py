"""Export keeps what the user changed in its folder (issue 28, item 4): a caption edited
by hand survives the next export with a WARNING (``--overwrite-edited`` replaces it), a
record edited to name a user's file never gets that file deleted, and an export that
stops half way records what it wrote. All on copies of the session's real extract
(review_util)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from personframes.export.destination import RECORD
from personframes.state.review import ReviewStore

from .review_util import BackgroundExtract
from .util import run_cli

pytestmark = pytest.mark.slow  # each needs the session's extract


@pytest.fixture
def out(stage_extract: BackgroundExtract, tmp_path: Path) -> Path:
    return stage_extract.copy(tmp_path / "out")


def accept_all(out: Path) -> list[str]:
    """Accept every image of the folder; their paths."""
    info = json.loads((out / "stage_performer_info.json").read_text())
    paths = [str(o["file"]) for o in info["outputs"]]
    with ReviewStore(out) as store:
        for path in paths:
            store.decide(path, "accepted")
    return paths


def export(out: Path, dest: Path, *extra: str) -> str:
    done = run_cli("export", str(out), str(dest), *extra)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def record(dest: Path) -> dict[str, object]:
    return dict(json.loads((dest / RECORD).read_text())["files"])


def test_an_edited_caption_survives_with_a_warning_and_overwrite_edited_replaces_it(
    out: Path, tmp_path: Path
) -> None:
    paths = accept_all(out)
    dest = tmp_path / "kohya"
    export(out, dest)
    captions = sorted(dest.rglob("*.txt"))
    assert len(captions) == len(paths) >= 3
    edited, dropped = captions[0], captions[1]
    generated = edited.read_text()
    edited.write_text("ada, my own words")
    dropped.write_text("my caption of an image I will reject")
    again = export(out, dest)
    assert edited.read_text() == "ada, my own words"
    # Every file export wrote is in the record with its hash and size; not the edited.
    files = record(dest)
    assert len(files) == 2 * len(paths) + 1  # and kohya's dataset_config.toml
    for name, entry in files.items():
        data = (dest / name).read_bytes()
        same = entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        assert same != (name in {str(edited.relative_to(dest)), str(dropped.relative_to(dest))})
    assert "WARNING" in again and edited.name in again and "--overwrite-edited" in again
    assert "2 edited left alone" in again, again
    # Still edited at the next export: still left alone (the record keeps what export wrote).
    assert "2 edited left alone" in export(out, dest)

    # An image rejected in review: its image goes, its edited caption stays.
    image = next(p for p in paths if Path(p).stem == dropped.stem)
    with ReviewStore(out) as store:
        store.decide(image, "rejected")
    third = export(out, dest)
    assert dropped.read_text() == "my caption of an image I will reject"
    assert not dropped.with_suffix(".jpg").exists()
    assert "2 edited left alone" in third and dropped.name in third, third
    assert str(dropped.relative_to(dest)) not in record(dest)  # no longer export's

    replaced = export(out, dest, "--overwrite-edited")
    assert edited.read_text() == generated
    assert "1 edited replaced" in replaced, replaced
    assert dropped.read_text() == "my caption of an image I will reject"  # never deleted
    quiet = export(out, dest)
    assert "0 files written" in quiet and "WARNING" not in quiet, quiet


def test_an_edited_record_never_gets_a_users_file_deleted(out: Path, tmp_path: Path) -> None:
    accept_all(out)
    dest = tmp_path / "kohya"
    export(out, dest)
    exported = sorted(
        str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and p.name != RECORD
    )
    # A record listing the user's notes.txt (names only, as an earlier version wrote it).
    (dest / "notes.txt").write_bytes(b"mine")
    (dest / RECORD).write_text(json.dumps({"files": [*exported, "notes.txt"]}))
    export(out, dest)
    assert (dest / "notes.txt").read_bytes() == b"mine"

    # Listed with a hash and size that are not the file's, or with neither.
    folder = next(p for p in dest.iterdir() if p.is_dir())
    mine = {
        dest / "notes.txt": b"mine",
        folder / "notes.txt": b"mine too",
        dest / "plan.txt": b"listed with its size, not its hash",
    }
    for path, data in mine.items():
        path.write_bytes(data)
    files = record(dest)
    files["notes.txt"] = {"sha256": "0" * 64, "size": 4}
    files[f"{folder.name}/notes.txt"] = None
    files["plan.txt"] = {"sha256": hashlib.sha256(b"other").hexdigest(), "size": 34}
    (dest / RECORD).write_text(json.dumps({"version": 2, "files": files}))
    warned = export(out, dest)
    assert all(path.read_bytes() == data for path, data in mine.items())
    assert "3 edited left alone" in warned and "notes.txt" in warned, warned
    assert not {"notes.txt", "plan.txt", f"{folder.name}/notes.txt"} & set(record(dest))
    assert sorted(record(dest)) == exported
    assert not list(dest.rglob(".pf-tmp-*"))  # the record and files written whole


def test_an_export_stopped_by_a_foreign_file_records_what_it_wrote(
    out: Path, tmp_path: Path
) -> None:
    paths = accept_all(out)
    dest = tmp_path / "kohya"
    export(out, dest)
    # The caption of the image placed last (manifest order): all else is written first.
    (last,) = dest.rglob(Path(paths[-1]).stem + ".txt")
    name = str(last.relative_to(dest))
    fresh = tmp_path / "fresh"
    (fresh / last.parent.name).mkdir(parents=True)
    (fresh / name).write_bytes(b"someone else's")
    stopped = run_cli("export", str(out), str(fresh))
    assert stopped.returncode == 2 and "was not written by personframes export" in stopped.stderr
    written = record(fresh)
    assert len(written) == 2 * len(paths) - 1 and name not in written
    (fresh / name).unlink()  # moved away: the rerun finishes
    assert f"{len(paths)} images" in export(out, fresh)
