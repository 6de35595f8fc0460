"""Clips (``extract --clips``) in review and export: the catalogue lists them like images,
the server serves them as video/mp4 (ranges too), the gallery plays them in a real
browser (Debian's Chromium, driven by Playwright) and takes a decision on them like an
image's, contact sheets show their first frame, and ``export`` takes only the accepted
ones unless told otherwise. All on copies of one real extract of a shared video."""

from __future__ import annotations

import http.client
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from personframes.review.catalog import Catalog
from personframes.review.snapshot import snapshot
from personframes.state.review import ReviewStore

from .review_util import ARGS, CHROMIUM, Server
from .util import run_cli

# The extract with clips takes about a minute: the full pass only, like the other
# review tests.
pytestmark = pytest.mark.slow

VIDEO = "stage_performer"


@pytest.fixture(scope="module")
def extracted(stage_clips_extract: Path) -> Path:
    """The session's extract of stage_performer with clips (conftest)."""
    return stage_clips_extract


@pytest.fixture
def out(extracted: Path, tmp_path: Path) -> Path:
    """A copy of the extract for one test: its review is its own."""
    return Path(shutil.copytree(extracted, tmp_path / "out", symlinks=True))


def outputs(folder: Path) -> list[dict[str, Any]]:
    return list(json.loads((folder / f"{VIDEO}_info.json").read_text())["outputs"])


def clips_of(folder: Path) -> list[dict[str, Any]]:
    clips = [o for o in outputs(folder) if o["kind"] == "clip"]
    assert len(clips) >= 2, "the shared video gives two clips or more"
    return clips


def request(
    port: int, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=data, headers=sent | (headers or {}))
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def exported(out: Path, dest: Path, *extra: str) -> list[dict[str, Any]]:
    done = run_cli("export", str(out), str(dest), "--format", "jsonl", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(x) for x in (dest / "dataset.jsonl").read_text().splitlines()]


def test_the_catalog_lists_each_clip_as_its_manifest_does(out: Path, tmp_path: Path) -> None:
    clips = clips_of(out)
    catalog = Catalog(out)
    entries = {e.path: e for e in catalog.entries()}
    assert len(entries) == len(outputs(out))
    for clip in clips:
        entry = entries[clip["file"]]
        assert entry.kind == "clip" and entry.is_clip and entry.path.endswith(".mp4")
        assert entry.person == f"{VIDEO}:{clip['person_id']}"
        assert (entry.pose, entry.head, entry.shot) == (
            clip["pose"],
            clip["head_direction"],
            clip["shot_type"],
        )
        assert entry.frame_index == clip["frame_indices"][0]
        assert entry.quality == clip["quality"]["overall"]
        assert list(entry.size) == clip["size"]
        assert entry.reason == clip["selection"]["reason"]
        assert entry.details["quality"] == clip["quality"]
        details = entry.details["clip"]
        for key in ("start_s", "end_s", "frames", "fps", "crop", "shot", "frames_bridged"):
            assert details[key] == clip[key], key
        assert entry.before is None and not entry.restored
    assert {c["file"] for c in clips} <= catalog.served_paths()
    (progress,) = catalog.progress()
    images = len(outputs(out)) - len(clips)
    assert (progress.step, progress.written, progress.clips) == ("done", images, len(clips))

    # The person view's samples are images (a clip is counted, never shown as an <img>).
    with ReviewStore(out, reading=True) as store:
        state = snapshot(catalog, store)
    assert not [s for p in state["people"] for s in p["samples"] if s.endswith(".mp4")]
    assert sum(p["clips"] for p in state["people"]) == len(clips)
    assert sum(p["count"] for p in state["people"]) == images
    assert {i["path"]: i["decision"] for i in state["items"] if i["kind"] == "clip"} == {
        c["file"]: "unreviewed" for c in clips
    }

    # Contact sheets show a clip by its first frame.
    html_sheet, png_sheet = tmp_path / "sheet.html", tmp_path / "sheet.png"
    for sheet in (html_sheet, png_sheet):
        done = run_cli("review", str(out), "--sheet", str(sheet))
        assert done.returncode == 0, done.stderr
    text = html_sheet.read_text()
    assert text.count("data:image/jpeg;base64,") == len(outputs(out))
    assert all(f"alt='{c['file']}'" in text for c in clips)
    with Image.open(png_sheet) as image:
        assert image.width > 800 and image.height > 160


def test_the_server_serves_clips_as_mp4_with_ranges_and_export_takes_the_accepted(
    out: Path, tmp_path: Path
) -> None:
    clips = clips_of(out)
    first, second = clips[0]["file"], clips[1]["file"]
    data = (out / first).read_bytes()
    server = Server(out)
    try:
        good = {"X-Review-Token": server.token}
        status, headers, body = request(server.port, "GET", f"/files/{first}", headers=good)
        assert status == 200 and headers["content-type"] == "video/mp4" and body == data
        assert headers.get("accept-ranges") == "bytes"
        # A browser's <video> asks for ranges (to seek, and to find the index).
        ranged = good | {"Range": "bytes=100-199"}
        status, headers, body = request(server.port, "GET", f"/files/{first}", headers=ranged)
        assert status == 206 and body == data[100:200]
        assert headers["content-range"] == f"bytes 100-199/{len(data)}"
        # The caption beside a clip is not a file of the gallery.
        caption = clips[0]["caption"]
        assert request(server.port, "GET", f"/files/{caption}", headers=good)[0] == 404
        decision = {"path": first, "decision": "accepted"}
        assert request(server.port, "POST", "/api/decide", decision, good)[0] == 200
    finally:
        server.stop()
    with ReviewStore(out, reading=True) as store:
        assert store.decisions() == {first: "accepted"}

    # By default export takes the accepted clip and leaves out the unreviewed one.
    lines = exported(out, tmp_path / "accepted")
    assert [line["source_file"] for line in lines] == [first]
    (line,) = lines
    assert line["kind"] == "clip" and line["review"] == "accepted"
    assert (tmp_path / "accepted" / line["file"]).read_bytes() == data
    # Told otherwise, it takes the unreviewed ones too (a clip copied as it is, even
    # where --bucket cuts the images).
    lines = exported(out, tmp_path / "all", "--include", "unreviewed", "--bucket", "64")
    taken = {x["source_file"] for x in lines}
    assert {first, second} <= taken and len(lines) == len(outputs(out))
    assert (tmp_path / "all" / Path(second).name).read_bytes() == (out / second).read_bytes()


@pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_the_gallery_plays_a_clip_and_takes_its_decision_in_chromium(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    clips = clips_of(out)
    total = len(outputs(out))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    server = Server(out)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            page.wait_for_function(f"document.querySelectorAll('#grid .card').length === {total}")
            # A clip's card holds a silent, looped video (no <img>), an image's an <img>.
            cards = page.eval_on_selector_all(
                "#grid .card",
                "cs => cs.map(c => ({path: c.dataset.path, kind: c.dataset.kind,"
                " video: !!c.querySelector('video'), img: !!c.querySelector('img'),"
                " muted: c.querySelector('video')?.muted, loop: c.querySelector('video')?.loop,"
                " preload: c.querySelector('video')?.preload}))",
            )
            clip_cards = [c for c in cards if c["kind"] == "clip"]
            assert {c["path"] for c in clip_cards} == {c["file"] for c in clips}
            assert all(c["video"] and not c["img"] and c["muted"] and c["loop"] for c in clip_cards)
            assert all(c["preload"] == "metadata" for c in clip_cards)
            assert all(c["img"] and not c["video"] for c in cards if c["kind"] != "clip")

            # The kind filter offers clips, and shows only them.
            page.select_option("#f-kind", "clip")
            page.wait_for_function(
                f"document.querySelectorAll('#grid .card').length === {len(clips)}"
            )
            order = page.eval_on_selector_all("#grid .card", "cs => cs.map(c => c.dataset.path)")
            by_file = {c["file"]: c for c in clips}
            first, second = order[:2]
            # In the grid a clip plays while the pointer is on it.
            page.locator(f'#grid .card[data-path="{second}"] video').hover()
            page.wait_for_function(
                f"(v => v.readyState >= 2 && !v.paused && v.currentTime > 0)"
                f"(document.querySelector('#grid .card[data-path=\"{second}\"] video'))",
                timeout=20_000,
            )
            # Selected, it plays in the side panel, with its controls and its times.
            page.mouse.move(0, 0)
            page.locator(f'#grid .card[data-path="{first}"]').click()
            page.wait_for_function(
                "(v => v && v.readyState >= 2 && !v.paused && v.currentTime > 0.2"
                " && v.videoWidth > 0)(document.querySelector('#viewer video'))",
                timeout=20_000,
            )
            played = page.eval_on_selector(
                "#viewer video",
                "v => ({src: v.currentSrc, controls: v.controls, muted: v.muted,"
                " width: v.videoWidth, height: v.videoHeight, duration: v.duration})",
            )
            assert played["src"].endswith("/files/" + first) and played["controls"]
            clip = by_file[first]
            assert played["muted"] and [played["width"], played["height"]] == clip["size"]
            expected = clip["frames"] / clip["fps"]
            assert abs(played["duration"] - expected) < 0.2, (played, expected)
            meta = dict(
                page.eval_on_selector_all(
                    "#meta tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
                )
            )
            assert meta["kind"] == "clip" and meta["frames"].startswith(f"{clip['frames']} at")
            assert meta["first frame"] == str(clip["frame_indices"][0])
            page.screenshot(path=str(shots / "clip.png"))

            # Accepted with the keyboard, like an image: saved, and the next is selected.
            page.keyboard.press("a")
            page.wait_for_selector(f'#grid .card.accepted[data-path="{first}"]')
            page.wait_for_selector(f'#grid .card.selected[data-path="{second}"]')
            page.wait_for_function(
                "(v => v && v.readyState >= 2)(document.querySelector('#viewer video'))"
            )
            assert page.get_attribute("#viewer video", "src") == "/files/" + second
            # A reload keeps it (the page shows what the server saved).
            page.reload()
            page.wait_for_function(f"document.querySelectorAll('#grid .card').length === {total}")
            page.wait_for_selector(f'#grid .card.accepted[data-path="{first}"]')
            page.click("#tab-people")
            assert page.locator("#people .samples img").count() > 0
            sources = page.eval_on_selector_all(
                "#people .samples img", "imgs => imgs.map(i => i.getAttribute('src'))"
            )
            assert not [s for s in sources if s.endswith(".mp4")]
            assert re.search(r"\d+ clips? ·", page.inner_text("#people"))
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
    with capsys.disabled():  # in the test run's output, to look at
        print(f"\nscreenshots: {' '.join(sorted(str(p) for p in shots.iterdir()))}")
    with ReviewStore(out, reading=True) as store:
        assert store.decisions() == {first: "accepted"}
    lines = exported(out, tmp_path / "dataset")
    assert [line["source_file"] for line in lines] == [first]
