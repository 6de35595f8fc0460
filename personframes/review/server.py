"""The review gallery: a Starlette app served by uvicorn on 127.0.0.1 only.

What it serves: the page and its two assets from the package, the folder's catalogue as
JSON (``/api/state``, and as Server-Sent Events whenever it changes: a running
``extract`` adds images without a reload), and the images the catalogue names
(``/files/PATH``), nothing else of the folder: a path that is not an image of the
catalogue, or that passes through a symbolic link, is 404. Writes (decisions, merges,
names) need the per-session token the page carries (403 without it), and every request
must name this machine as its host (a page elsewhere cannot rebind its name to us).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
import socket
import threading
import webbrowser
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ..errors import InputError, OutputError, PersonframesError
from .catalog import Catalog, real_file
from .snapshot import snapshot
from .store import ReviewStore

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TOKEN_HEADER = "X-Review-Token"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
POLL_S = 1.0  # how often the event stream looks for changes
KEEPALIVE_S = 15.0


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def served_file(output_dir: Path, wanted: str, allowed: set[str]) -> Path | None:
    """The file for ``wanted`` (a path relative to OUT from the URL) when it is one of
    ``allowed`` and reached through no link; else None."""
    if wanted not in allowed or not real_file(output_dir, wanted):
        return None
    return output_dir / wanted


class Gallery:
    """The app's state: the folder, its store and catalogue, the session's token."""

    def __init__(self, output_dir: Path, token: str | None = None) -> None:
        self.output_dir = output_dir
        self.token = token or secrets.token_urlsafe(24)
        self.store = ReviewStore(output_dir)
        self.catalog = Catalog(output_dir)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.store.close()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return snapshot(self.catalog, self.store)

    def version(self) -> tuple[Any, ...]:
        with self._lock:
            return (*self.catalog.fingerprint(), *self.store.fingerprint())

    # -- routes ------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        text = _asset("index.html")
        text = text.replace("{{TOKEN}}", self.token)
        text = text.replace("{{FOLDER}}", html.escape(str(self.output_dir)))
        return HTMLResponse(text, headers={"Cache-Control": "no-store"})

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return Response(_asset(name), media_type=ASSETS[name])

    async def api_state(self, request: Request) -> Response:
        return JSONResponse(self.state(), headers={"Cache-Control": "no-store"})

    async def events(self, request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            seen: tuple[Any, ...] | None = None
            quiet = 0.0
            while not await request.is_disconnected():
                current = self.version()
                if current != seen:
                    seen = current
                    quiet = 0.0
                    yield f"event: state\ndata: {json.dumps(self.state())}\n\n"
                elif quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(POLL_S)
                quiet += POLL_S

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def file(self, request: Request) -> Response:
        wanted = request.path_params["path"]
        with self._lock:
            allowed = self.catalog.served_paths()
        path = served_file(self.output_dir, wanted, allowed)
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    def _write(self, action: Callable[[dict[str, Any]], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            sent = request.headers.get(TOKEN_HEADER, "")
            if not secrets.compare_digest(sent.encode(), self.token.encode()):
                return JSONResponse({"error": "missing or wrong review token"}, status_code=403)
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("not an object")
                with self._lock:
                    result = action(body)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": f"bad request ({exc})"}, status_code=400)
            except InputError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except PersonframesError as exc:  # the database could not take it
                return JSONResponse({"error": str(exc)}, status_code=500)
            return JSONResponse({"ok": True, "result": result})

        return endpoint

    def _decide(self, body: dict[str, Any]) -> str:
        path, decision = str(body["path"]), str(body["decision"])
        if path not in self.catalog.served_paths():
            raise InputError(f"{path!r} is not an image of this folder")
        self.store.decide(path, decision)
        return decision

    def routes(self) -> list[Route]:
        store = self.store
        return [
            Route("/", self.page),
            Route("/static/{name}", self.asset),
            Route("/api/state", self.api_state),
            Route("/api/events", self.events),
            Route("/files/{path:path}", self.file),
            Route("/api/decide", self._write(self._decide), methods=["POST"]),
            Route(
                "/api/merge",
                self._write(lambda b: store.merge(str(b["source"]), str(b["target"]))),
                methods=["POST"],
            ),
            Route(
                "/api/split", self._write(lambda b: store.split(str(b["person"]))), methods=["POST"]
            ),
            Route(
                "/api/rename",
                self._write(lambda b: store.rename(str(b["person"]), str(b["name"]))),
                methods=["POST"],
            ),
        ]


def create_app(gallery: Gallery, port: int) -> Starlette:
    hosts = [HOST, "localhost", f"{HOST}:{port}", f"localhost:{port}"]
    return Starlette(
        routes=gallery.routes(),
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
    )


def listening_socket(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` (0: a free port) and listening already, so
    that the address can be printed before the server starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OutputError(f"cannot listen on {HOST}:{port} ({exc.strerror or exc})") from exc
    return sock


def serve(output_dir: Path, port: int, open_browser: bool, say: Callable[[str], None]) -> None:
    """Serve the gallery until Ctrl+C."""
    import uvicorn

    gallery = Gallery(output_dir)
    sock = listening_socket(port)
    bound = int(sock.getsockname()[1])
    url = f"http://{HOST}:{bound}/"
    app = create_app(gallery, bound)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    say(f"Reviewing {output_dir} at {url} (Ctrl+C to stop)")
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        gallery.close()
