"""Review without a browser: the server's guards, the store, the manifests, contact
sheets; export layouts, their idempotence, and that the output folder never changes.
All on copies of a real extract of a shared video (review_util)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from personframes.state.review import ReviewStore

from .review_util import BackgroundExtract, Server
from .util import run_cli, run_cli_in_process

# Each needs the session's extract (about a minute): run on the full pass only.
pytestmark = pytest.mark.slow


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links as their target) and its content's hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def outputs(folder: Path) -> list[dict[str, object]]:
    return list(json.loads((folder / "stage_performer_info.json").read_text())["outputs"])


@pytest.fixture
def out(stage_extract: BackgroundExtract, tmp_path: Path) -> Path:
    return stage_extract.copy(tmp_path / "out")


def request(
    port: int, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=data, headers=sent | (headers or {}))
    response = connection.getresponse()
    return response.status, response.read()


def test_the_server_serves_only_the_folders_images_and_writes_need_the_token(
    out: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not for the browser")
    (out / "link_out.jpg").symlink_to(secret)
    first = str(outputs(out)[0]["file"])
    # An image of the catalogue replaced by a link out of the folder: not served either.
    victim = str(outputs(out)[1]["file"])
    (out / victim).unlink()
    (out / victim).symlink_to(secret)
    server = Server(out)
    try:
        good = {"X-Review-Token": server.token}
        status, page = request(server.port, "GET", "/", headers=good)
        assert status == 200 and server.token.encode() not in page
        assert request(server.port, "GET", f"/files/{first}", headers=good)[0] == 200
        for path in (
            "/files/../secret.jpg",
            "/files/%2e%2e/secret.jpg",
            "/files/..%2fsecret.jpg",
            f"/files/{secret}",
            f"/files//{secret}",
            "/files/link_out.jpg",
            f"/files/{victim}",
            "/files/.personframes/review.sqlite",
            "/files/stage_performer_info.json",
            "/static/../../pyproject.toml",
        ):
            status, body = request(server.port, "GET", path, headers=good)
            assert status == 404, (path, status)
            assert b"not for the browser" not in body
        decision = {"path": first, "decision": "rejected"}
        assert request(server.port, "POST", "/api/decide", decision)[0] == 403
        wrong = {"X-Review-Token": "x" * 32}
        assert request(server.port, "POST", "/api/decide", decision, wrong)[0] == 403
        assert request(server.port, "POST", "/api/rename", {"person": "a:1", "name": "x"})[0] == 403
        assert request(server.port, "GET", "/api/state", headers={"Host": "evil.example"})[0] == 400
        assert request(server.port, "POST", "/api/decide", decision, good)[0] == 200
        bad_path = {"path": "../x.jpg", "decision": "rejected"}
        assert request(server.port, "POST", "/api/decide", bad_path, good)[0] == 400
        status, state = request(server.port, "GET", "/api/state", headers=good)
        items = {i["path"]: i for i in json.loads(state)["items"]}
        assert items[first]["decision"] == "rejected"
        assert victim not in items  # a link is not an image of the folder
    finally:
        server.stop()
    with ReviewStore(out) as store:
        assert store.decisions() == {first: "rejected"}


def test_restored_faces_keep_their_crop_before_restoration(out: Path) -> None:
    restored = [o for o in outputs(out) if (o.get("restoration") or {}).get("restored")]
    assert restored, "the shared video has small faces the policy restores"
    from personframes.review.catalog import Catalog

    entries = {e.path: e for e in Catalog(out).entries()}
    for output in restored:
        entry = entries[str(output["file"])]
        assert entry.before is not None
        with Image.open(out / entry.before) as before, Image.open(out / entry.path) as after:
            w, h = output["crop_box_xywh"][2:]  # type: ignore[index]
            assert before.size == (w, h)  # the source's own pixels
            assert abs(before.width / before.height - after.width / after.height) < 0.02


def decide_some(out: Path) -> tuple[list[str], str, str]:
    """Accept three images of two people, reject one, name the first person."""
    files = outputs(out)
    people: dict[int, list[str]] = {}
    for o in files:
        people.setdefault(int(o["person_id"]), []).append(str(o["file"]))  # type: ignore[call-overload]
    (a, a_files), (b, b_files) = list(people.items())[:2]
    accepted = [a_files[0], a_files[-1], b_files[0]]
    with ReviewStore(out) as store:
        for path in set(accepted):
            store.decide(path, "accepted")
        rejected = next(str(o["file"]) for o in files if str(o["file"]) not in accepted)
        store.decide(rejected, "rejected")
        store.rename(f"stage_performer:{a}", "Ada")
    return sorted(set(accepted)), rejected, f"stage_performer_person{b}"


def test_kohya_export_is_kohyas_layout_idempotent_and_leaves_out_alone(
    out: Path, tmp_path: Path
) -> None:
    accepted, _, other = decide_some(out)
    before = tree(out)
    dest = tmp_path / "kohya"
    done = run_cli("export", str(out), str(dest), "--repeats", "5")
    assert done.returncode == 0, done.stderr
    assert tree(out) == before
    folders = sorted(p.name for p in dest.iterdir() if p.is_dir())
    assert folders == ["5_Ada person", f"5_{other} person"]
    assert all(re.match(r"^\d+_.+", name) for name in folders)
    images = sorted(p.name for p in dest.rglob("*.jpg"))
    assert images == sorted(Path(a).name for a in accepted)
    for image in (dest / "5_Ada person").glob("*.jpg"):
        assert image.with_suffix(".txt").read_text().startswith("Ada")
    first = tree(dest)
    again = run_cli("export", str(out), str(dest), "--repeats", "5")
    assert again.returncode == 0 and "0 files written" in again.stderr, again.stderr
    assert tree(dest) == first
    # A changed decision: the rerun removes what is no longer accepted, nothing else.
    (dest / "notes.txt").write_text("mine")
    with ReviewStore(out) as store:
        store.decide(accepted[0], "rejected")
    assert run_cli("export", str(out), str(dest), "--repeats", "5").returncode == 0
    assert Path(accepted[0]).name not in {p.name for p in dest.rglob("*.jpg")}
    assert (dest / "notes.txt").read_text() == "mine"
    images = {k: v for k, v in tree(out).items() if not k.startswith(".personframes")}
    assert images == {k: v for k, v in before.items() if not k.startswith(".personframes")}


def test_export_refuses_to_overwrite_foreign_files_or_write_into_out(
    out: Path, tmp_path: Path
) -> None:
    accepted, _, _ = decide_some(out)
    dest = tmp_path / "taken"
    (dest / "5_Ada person").mkdir(parents=True)
    (dest / "5_Ada person" / Path(accepted[0]).name).write_bytes(b"someone else's")
    done = run_cli("export", str(out), str(dest), "--repeats", "5")
    assert done.returncode == 2 and "was not written by personframes export" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    inside = run_cli_in_process("export", str(out), str(out / "dataset"))
    assert inside.returncode == 2 and "inside the output folder" in inside.stderr
    assert not (out / "dataset").exists()
    nothing = run_cli_in_process("export", str(tmp_path / "nowhere"), str(tmp_path / "d"))
    assert nothing.returncode == 2 and "no such folder" in nothing.stderr


def test_nothing_accepted_is_a_clear_error(out: Path, tmp_path: Path) -> None:
    done = run_cli_in_process("export", str(out), str(tmp_path / "d"))
    assert done.returncode == 2
    assert "no accepted images" in done.stderr and "--include unreviewed" in done.stderr
    assert not (tmp_path / "d").exists()


def test_bucket_snapping_links_and_the_bucket_log(out: Path, tmp_path: Path) -> None:
    accepted, _, _ = decide_some(out)
    dest = tmp_path / "buckets"
    done = run_cli("export", str(out), str(dest), "--bucket", "64", "--group-by", "none")
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in dest.iterdir() if p.is_dir()]
    assert folder.name == "10_subject person"
    log = (dest / "buckets.csv").read_text().splitlines()
    assert log[0] == "file,width,height,bucket_width,bucket_height" and len(log) == 1 + len(
        accepted
    )
    for image in folder.glob("*.jpg"):
        with Image.open(image) as opened:
            assert opened.width % 64 == 0 and opened.height % 64 == 0
        assert image.with_suffix(".txt").read_text().startswith("subject")
    linked = tmp_path / "linked"
    done = run_cli("export", str(out), str(linked), "--format", "jsonl", "--link")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (linked / "dataset.jsonl").read_text().splitlines()]
    assert sorted(line["source_file"] for line in lines) == accepted
    for line in lines:
        assert os.path.samefile(linked / line["file"], out / line["source_file"])
        assert line["review"] == "accepted" and "head_angles" in line and "quality" in line


def test_imagefolder_loads_with_hugging_face_datasets(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip(
        "datasets", reason="the datasets package: pip install -e '.[test-datasets]'"
    )
    accepted, _, _ = decide_some(out)
    dest = tmp_path / "hf"
    done = run_cli("export", str(out), str(dest), "--format", "imagefolder")
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = datasets.load_dataset(
        "imagefolder", data_dir=str(dest), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert len(data) == len(accepted)
    assert {"image", "person", "pose", "head_direction", "caption", "review"} <= set(
        data.column_names
    )
    assert "Ada" in set(data["person"])
    assert data[0]["image"].size[0] > 0


def test_review_in_manifests_and_contact_sheets(out: Path, tmp_path: Path) -> None:
    accepted, rejected, _ = decide_some(out)
    with ReviewStore(out) as store:
        first, second = sorted({f"stage_performer:{o['person_id']}" for o in outputs(out)})[:2]
        store.merge(second, first)
    done = run_cli("review", str(out), "--write-manifest")
    assert done.returncode == 0, done.stderr
    reviewed = {str(o["file"]): o for o in outputs(out)}
    assert {p for p, o in reviewed.items() if o["review"] == "accepted"} == set(accepted)
    assert reviewed[rejected]["review"] == "rejected"
    merged = [o for o in reviewed.values() if o.get("person_group") == first]
    assert merged and all(f"stage_performer:{o['person_id']}" == second for o in merged)
    html_sheet, png_sheet = tmp_path / "sheet.html", tmp_path / "sheet.png"
    assert run_cli("review", str(out), "--sheet", str(html_sheet)).returncode == 0
    text = html_sheet.read_text()
    assert text.count("data:image/jpeg;base64,") == len(reviewed) and "src='http" not in text
    assert run_cli("review", str(out), "--sheet", str(png_sheet)).returncode == 0
    with Image.open(png_sheet) as sheet:
        assert sheet.width > 800 and sheet.height > 160
    bad = run_cli_in_process("review", str(tmp_path), "--sheet", str(tmp_path / "s.html"))
    assert bad.returncode == 2 and "not a personframes output folder" in bad.stderr
