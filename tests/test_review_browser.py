"""The review gallery end to end in a real browser (Debian's Chromium, driven by
Playwright): live progress while an extract runs, filters, keyboard decisions, a merge,
a reload, then exports of what was reviewed. Screenshots go to the test's temp folder."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from personframes.state.review import ReviewStore

from .review_util import ARGS, CHROMIUM, BackgroundExtract, Server
from .util import run_cli

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


def cards(page: object) -> list[dict[str, str]]:
    return page.eval_on_selector_all(  # type: ignore[attr-defined, no-any-return]
        "#grid .card", "cs => cs.map(c => ({path: c.dataset.path, cls: c.className}))"
    )


@pytest.mark.slow
def test_review_in_chromium_then_export(
    stage_extract: BackgroundExtract, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stage_extract.wait_started()
    out = stage_extract.folder
    server = Server(out)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            page.evaluate("window.__same_page = true")

            # Live: images appear while the extract writes them, without a reload.
            seen_running: set[int] = set()
            deadline = time.monotonic() + 900
            while not (
                page.get_attribute("#progress", "data-running") == "no"
                and page.get_attribute("#progress", "data-videos") not in (None, "0")
            ):
                seen_running.add(page.locator("#grid .card").count())
                assert time.monotonic() < deadline, "the page never showed the extract done"
                time.sleep(0.25)
            stage_extract.finished()
            manifest = json.loads((out / "stage_performer_info.json").read_text())
            total = len(manifest["outputs"])
            page.wait_for_function(f"document.querySelectorAll('#grid .card').length === {total}")
            assert page.evaluate("window.__same_page") is True
            assert any(0 < n < total for n in seen_running), seen_running
            # Every image of the grid loads (lazy loading waits for scrolling: not here).
            page.evaluate(
                "document.querySelectorAll('#grid img').forEach(i => (i.loading = 'eager'))"
            )
            page.wait_for_function(
                "[...document.querySelectorAll('#grid img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            page.screenshot(path=str(shots / "gallery.png"), full_page=True)

            # Before / after of a restored face, at the same size.
            page.locator("#grid .card:has(.restored-mark)").first.click()
            page.wait_for_selector("#viewer .compare img.before")
            sizes = page.eval_on_selector_all(
                "#viewer .compare img",
                "imgs => imgs.map(i => [i.getBoundingClientRect().width,"
                " i.getBoundingClientRect().height, i.complete && i.naturalWidth > 0])",
            )
            assert len(sizes) == 2 and sizes[0][:2] == sizes[1][:2] and all(s[2] for s in sizes)
            page.fill("#viewer .compare input[type=range]", "30")
            page.screenshot(path=str(shots / "before_after.png"))

            # Filter by head direction: only those cards remain.
            heads = {o["head_direction"] for o in manifest["outputs"]}
            head = "front" if "front" in heads else sorted(heads)[0]
            page.select_option("#f-head", head)
            shown = cards(page)
            expected = {o["file"] for o in manifest["outputs"] if o["head_direction"] == head}
            assert {c["path"] for c in shown} == expected

            # Reject two with the keyboard: select the first, r, r (each moves on).
            page.locator("#grid .card").first.click()
            page.keyboard.press("r")
            page.keyboard.press("r")
            rejected = {c["path"] for c in cards(page) if "rejected" in c["cls"]}
            assert rejected == {shown[0]["path"], shown[1]["path"]}
            page.keyboard.press("?")
            assert page.is_visible("#help")
            page.keyboard.press("Escape")

            # Merge two people in the person view.
            page.click("#tab-people")
            people = page.locator("#people .person")
            before_merge = people.count()
            assert before_merge >= 2
            first = people.nth(0).get_attribute("data-person")
            second = people.nth(1).get_attribute("data-person")
            people.nth(0).locator("input[type=checkbox]").check()
            people.nth(1).locator("input[type=checkbox]").check()
            page.click("#merge")
            page.wait_for_function(
                f"document.querySelectorAll('#people .person').length === {before_merge - 1}"
            )
            page.locator(f'#people .person[data-person="{first}"] input[type=text]').fill("Ada")
            page.locator(f'#people .person[data-person="{first}"] button:text("Rename")').click()
            page.wait_for_selector(f'#people .person[data-person="{first}"] strong:text("Ada")')

            # A reload keeps all of it.
            page.reload()
            page.wait_for_function(f"document.querySelectorAll('#grid .card').length === {total}")
            kept = {c["path"] for c in cards(page) if "rejected" in c["cls"]}
            assert kept == rejected
            page.click("#tab-people")
            assert page.locator("#people .person").count() == before_merge - 1
            page.screenshot(path=str(shots / "people.png"))
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
    with capsys.disabled():  # in the test run's output, to look at
        print(f"\nscreenshots: {' '.join(sorted(str(p) for p in shots.iterdir()))}")

    with ReviewStore(out) as store:
        assert set(store.decisions()) == rejected
        assert store.root(second) == first and store.names() == {first: "Ada"}

    # Export what was reviewed: all but the rejected.
    kohya = tmp_path / "kohya"
    done = run_cli("export", str(out), str(kohya), "--format", "kohya", "--include", "unreviewed")
    assert done.returncode == 0, done.stderr
    folders = [p for p in kohya.iterdir() if p.is_dir()]
    assert folders and all(re.match(r"^\d+_.+", p.name) for p in folders)
    assert "10_Ada person" in {p.name for p in folders}
    images = [p for p in kohya.rglob("*.jpg")]
    assert len(images) == total - len(rejected)
    assert not {p.name for p in images} & {Path(r).name for r in rejected}
    for image in images:
        token = image.parent.name.split("_", 1)[1].rsplit(" ", 1)[0]
        assert re.match(rf"^{re.escape(token)}(, |\n)", image.with_suffix(".txt").read_text())
    folder = tmp_path / "imagefolder"
    done = run_cli(
        "export", str(out), str(folder), "--format", "imagefolder", "--include", "unreviewed"
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (folder / "metadata.jsonl").read_text().splitlines()]
    assert len(lines) == total - len(rejected)
    assert all((folder / line["file_name"]).is_file() for line in lines)
    assert {line["person"] for line in lines} >= {"Ada"}
    shutil.rmtree(kohya)
