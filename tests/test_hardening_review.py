"""The review server under hostile requests (issue 28, item 5): nothing is served without
the session's token, the printed address sets it as a strict cookie and forwards to the
clean address, bodies are bounded, and every bad request gets a 4xx with a short
reason and no traceback. One server on a copy of the session's real extract."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from personframes.review.access import forwarding_file

from .review_util import BackgroundExtract, Server

pytestmark = pytest.mark.slow  # needs the session's extract

CHROMIUM = Path("/usr/bin/chromium")


class Gallery:
    def __init__(self, out: Path, server: Server) -> None:
        self.out = out
        self.server = server
        info = json.loads((out / "stage_performer_info.json").read_text())
        self.outputs = info["outputs"]
        self.image = str(self.outputs[0]["file"])
        self.people = sorted({f"stage_performer:{o['person_id']}" for o in self.outputs})

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: bool = True,
    ) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        sent = {"X-Review-Token": self.server.token} if token else {}
        if body is not None:
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=body, headers=sent | (headers or {}))
        return connection.getresponse()

    def post(self, path: str, data: object, **kwargs: object) -> tuple[int, bytes]:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        response = self.request("POST", path, body, **kwargs)  # type: ignore[arg-type]
        return response.status, response.read()


@pytest.fixture(scope="module")
def gallery(
    stage_extract: BackgroundExtract, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gallery]:
    out = stage_extract.copy(tmp_path_factory.mktemp("hardened") / "out")
    server = Server(out)
    try:
        yield Gallery(out, server)
    finally:
        printed = server.stop()
        assert "Traceback" not in printed and "Exception" not in printed, printed


def test_nothing_is_served_without_the_token(gallery: Gallery) -> None:
    token = gallery.server.token
    paths = ["/", "/static/app.js", "/api/state", f"/files/{gallery.image}"]
    wrong: list[dict[str, str]] = [
        {},
        {"X-Review-Token": "x" * len(token)},
        {"Authorization": "token " + token[:-1]},
        {"Cookie": f"personframes-review-{gallery.server.port}={token}x"},
        {"Cookie": f"personframes-review-1={token}"},  # another port's cookie name
    ]
    for path in [*paths, "/api/events", f"/?token={token[:-2]}"]:
        for headers in wrong:
            response = gallery.request("GET", path, headers=headers, token=False)
            body = response.read()
            assert response.status == 403, (path, headers, response.status)
            assert b"token" in body and len(body) < 300 and token.encode() not in body
    status, _ = gallery.post("/api/split", {"person": gallery.people[0]}, token=False)
    assert status == 403
    # With the token in a header (a script), a cookie (the page) or the address: served.
    for headers in (
        {"Authorization": f"token {token}"},
        {"Authorization": f"Bearer {token}"},
        {"Cookie": f"other=1; personframes-review-{gallery.server.port}={token}"},
    ):
        for path in paths:
            response = gallery.request("GET", path, headers=headers, token=False)
            assert response.status == 200, (path, headers)
            assert token.encode() not in response.read()  # the page no longer carries it
    events = gallery.request("GET", "/api/events")
    assert events.status == 200 and events.getheader("content-type", "").startswith(
        "text/event-stream"
    )
    events.close()


def test_the_printed_address_sets_a_strict_cookie_and_forwards_to_the_clean_one(
    gallery: Gallery,
) -> None:
    server = gallery.server
    assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"
    response = gallery.request("GET", f"/?token={server.token}", token=False)
    assert response.status == 303 and response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie", "")
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    assert name_value == f"personframes-review-{server.port}={server.token}"
    assert {"HttpOnly", "SameSite=strict", "Path=/"} <= set(attributes), cookie
    page = gallery.request("GET", "/", headers={"Cookie": name_value}, token=False)
    assert page.status == 200 and b"personframes review" in page.read()
    # Other paths keep their own query; the forward never leaves this server.
    for path, location in (
        (f"/files/{gallery.image}?token={server.token}&v=2", f"/files/{gallery.image}?v=2"),
        (f"//evil.example/?token={server.token}", "/evil.example/"),
        (f"/\\evil.example/?token={server.token}", "/evil.example/"),
    ):
        response = gallery.request("GET", path, token=False)
        assert response.status == 303 and response.getheader("Location") == location, path
    # A navigation begun on another site would not bring a Strict cookie back through a
    # redirect: the forward is a page of this server's own.
    response = gallery.request(
        "GET", f"/?token={server.token}", headers={"Sec-Fetch-Site": "cross-site"}, token=False
    )
    assert response.status == 200 and 'content="0;url=/"' in response.read().decode()
    assert "SameSite=strict" in response.getheader("Set-Cookie", "")


def raw(port: int, head: str, body: bytes) -> tuple[int, bytes]:
    """Send a request as bytes (what http.client would not), read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_bad_requests_get_a_4xx_and_a_short_reason(gallery: Gallery) -> None:
    person, other = gallery.people[:2]
    deep = b'{"person": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    cases: list[tuple[str, object, int]] = [
        ("/api/split", deep, 413),  # 200 KB: over the limit before its depth is seen
        ("/api/split", b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400),  # 60 KB deep
        ("/api/split", b"not json", 400),
        ("/api/split", b"\xff\xfe", 400),
        ("/api/split", [1, 2], 400),
        ("/api/split", {}, 400),
        ("/api/split", {"person": 7}, 400),
        ("/api/split", {"person": "nobody:99"}, 404),
        ("/api/split", {"person": person}, 409),  # known, but merged into no one
        ("/api/merge", {"source": "nobody:1", "target": person}, 404),
        ("/api/merge", {"source": person, "target": "x" * 4000}, 404),
        ("/api/rename", {"person": "nobody:1", "name": "Ada"}, 404),
        ("/api/rename", {"person": person, "name": "a/b"}, 400),
        ("/api/decide", {"path": gallery.image, "decision": "maybe"}, 400),
        ("/api/decide", {"path": "x" * 5000, "decision": "accepted"}, 400),
        ("/api/nothing", {}, 404),
    ]
    for path, data, expected in cases:
        status, body = gallery.post(path, data)
        assert status == expected, (path, str(data)[:80], status, body[:200])
        assert len(body) < 400 and b"Traceback" not in body, body[:400]
    assert gallery.request("GET", "/api/split").status == 405
    assert gallery.post("/api/split", b"{}", headers={"Content-Type": "text/plain"})[0] == 415
    foreign = {"Origin": "http://127.0.0.1:1"}
    assert gallery.post("/api/split", {"person": person}, headers=foreign)[0] == 403
    # Merged, a person can be split: 200, and a merge of the unknown changed nothing.
    assert gallery.post("/api/merge", {"source": other, "target": person})[0] == 200
    assert gallery.post("/api/split", {"person": other})[0] == 200
    state = json.loads(gallery.request("GET", "/api/state").read())
    assert {p["id"] for p in state["people"]} == set(gallery.people)


def test_request_bodies_are_bounded_and_never_echoed(gallery: Gallery) -> None:
    port, token = gallery.server.port, gallery.server.token
    start = (
        f"POST /api/rename HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Review-Token: {token}\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
    )
    # 20 MB announced: refused at once, without the server waiting for (or reading) it.
    status, body = raw(port, start + "Content-Length: 20000000\r\n\r\n", b'{"person": "')
    assert status == 413 and b"64 KiB" in body and len(body) < 200
    # No length given: read in chunks and stopped past 64 KiB.
    chunk = b'{"name": "' + b"A" * 70_000
    chunked = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    status, body = raw(port, start + "Transfer-Encoding: chunked\r\n\r\n", chunked)
    assert status == 413 and b"AAAA" not in body
    # Just under the limit: read, and the long value is not sent back.
    name = "B" * 60_000
    status, body = gallery.post("/api/rename", {"person": gallery.people[0], "name": name})
    assert status == 400 and len(body) < 400 and b"BBBB" not in body


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian's chromium is not installed")
def test_chromium_opens_the_gallery_from_the_forwarding_file_and_the_address(
    gallery: Gallery, tmp_path: Path
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    opener = forwarding_file(tmp_path, gallery.server.url)
    assert opener.stat().st_mode & 0o777 == 0o600
    base = f"http://127.0.0.1:{gallery.server.port}/"
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for start in (opener.as_uri(), gallery.server.url):
                context = browser.new_context()
                page = context.new_page()
                page.goto(start)
                page.wait_for_url(base)  # the token is gone from the address bar
                page.wait_for_function("document.querySelectorAll('#grid .card').length > 0")
                page.wait_for_function(
                    "[...document.querySelectorAll('#grid img')].slice(0, 3)"
                    ".every(i => i.complete && i.naturalWidth > 0)"
                )
                cookies = context.cookies()
                assert [c["sameSite"] for c in cookies] == ["Strict"] and cookies[0]["httpOnly"]
                assert page.evaluate("document.cookie") == ""  # the script cannot read it
                context.close()
            # A browser without the token sees a reason, not the gallery.
            context = browser.new_context()
            page = context.new_page()
            response = page.goto(base)
            assert response is not None and response.status == 403
            assert "token" in page.content() and "#grid" not in page.content()
            context.close()
        finally:
            browser.close()
