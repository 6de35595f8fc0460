"""Who may see the gallery: the holder of its per-session token, as Jupyter does it.

The address ``review`` prints and opens carries the token (``/?token=...``). The server
compares it in constant time, sets it as an HttpOnly, SameSite=Strict cookie (named
after the port: two galleries on one machine keep theirs) and sends the browser on to
the address without it. From then on the page, its state, events and images come with
the cookie; a script may send the token in an ``Authorization: token ...`` or
``X-Review-Token`` header instead. Without a valid token nothing is served: 403 and a
short reason. The browser is opened on a file only this user can read that forwards to
the address, so the token never stands on a command line other users can list.
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from ..errors import OutputError

TOKEN_PARAM = "token"
TOKEN_HEADER = "X-Review-Token"
# Where a Strict cookie set on a redirect does not come back (the navigation began on
# another site, e.g. the forwarding file): forward from a page of our own instead.
FOREIGN_START = ("cross-site", "same-site")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    return f"personframes-review-{port}"


def same(sent: str | None, token: str) -> bool:
    """``sent`` is the token (compared in constant time)."""
    if not sent:
        return False
    return secrets.compare_digest(sent.encode("utf-8", "replace"), token.encode())


def header_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: token|Bearer T`` or ``X-Review-Token`` header."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return headers.get(TOKEN_HEADER)


def clean_location(scope: Scope) -> str:
    """The request's own path and query without the token: where to send the browser.
    Always a path of this server (``//host`` or ``/\\host`` would leave it)."""
    path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    path = "/" + path.lstrip("/\\")
    query = [
        (k, v)
        for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
        if k != TOKEN_PARAM
    ]
    return path + ("?" + urlencode(query) if query else "")


def refused(path: str, reason: str) -> Response:
    if path.startswith("/api/"):
        return JSONResponse({"error": reason}, status_code=403)
    return PlainTextResponse(reason + "\n", status_code=403)


class TokenGate:
    """ASGI middleware: every HTTP request needs the token (see the module's text)."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(port)
        self.reason = (
            "this gallery needs its token: open the address personframes review printed "
            f"(http://127.0.0.1:{port}/?token=...)"
        )

    def _cookie(self, headers: Headers) -> str | None:
        return cookie_parser(headers.get("cookie", "")).get(self.cookie)

    def _forward(self, scope: Scope, headers: Headers) -> Response:
        """The token was in the address: keep it as a cookie, send the browser on."""
        location = clean_location(scope)
        if headers.get("sec-fetch-site") in FOREIGN_START:
            target = html.escape(location, quote=True)
            response: Response = HTMLResponse(
                f'<!doctype html><meta http-equiv="refresh" content="0;url={target}">'
                f'<a href="{target}">personframes review</a>\n'
            )
        else:
            response = Response(status_code=303, headers={"Location": location})
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.set_cookie(
            self.cookie, self.token, httponly=True, samesite="strict", path="/", secure=False
        )
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the gallery has none: refused before routing
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), True))
        if TOKEN_PARAM in query and same(query[TOKEN_PARAM], self.token):
            if scope["method"] in ("GET", "HEAD"):
                await self._forward(scope, headers)(scope, receive, send)
                return
        elif not (
            same(self._cookie(headers), self.token) or same(header_token(headers), self.token)
        ):
            await refused(scope["path"], self.reason)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def forwarding_file(folder: Path, url: str) -> Path:
    """A page only this user can read that forwards the browser to ``url`` (Jupyter's
    redirect file): the browser is opened on it, not on the address with the token."""
    path = folder / f"review-open-{os.getpid()}.html"
    target = html.escape(url, quote=True)
    text = (
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url='
        f'{target}"><title>personframes review</title><a href="{target}">personframes '
        "review</a>\n"
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # an earlier run's of the same pid (a link is removed, not followed)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path
