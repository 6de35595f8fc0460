"""The review gallery: a Starlette app served by uvicorn on 127.0.0.1 only.

What it serves: the page and its two assets from the package, the folder's catalogue as
JSON (``/api/state``, and as Server-Sent Events whenever it changes: a running
``extract`` adds images without a reload), and the images the catalogue names
(``/files/PATH``), nothing else of the folder: a path that is not an image of the
catalogue, or that passes through a symbolic link, is 404. Nothing at all is served
without the session's token (:mod:`.access`: the printed address carries it, the
browser keeps it as a cookie), and every request must name this machine as its host (a
page elsewhere cannot rebind its name to us). Writes (decisions, merges, names) are
bounded JSON objects (:mod:`.bodies`) sent from this origin; each bad one gets a 4xx and
a short reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
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
from ..output.safe_paths import is_real_file
from ..state.review import DECISIONS, UNREVIEWED, ReviewStore
from ..state.video import state_folder
from .access import TOKEN_PARAM, TokenGate, forwarding_file, new_token
from .bodies import BadRequest, Fields, json_fields, quoted
from .catalog import Catalog
from .snapshot import snapshot

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
POLL_S = 1.0  # how often the event stream looks for changes
KEEPALIVE_S = 15.0


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def served_file(output_dir: Path, wanted: str, allowed: set[str]) -> Path | None:
    """The file for ``wanted`` (a path relative to OUT from the URL) when it is one of
    ``allowed`` and reached through no link; else None."""
    if wanted not in allowed or not is_real_file(output_dir, wanted):
        return None
    return output_dir / wanted


class Gallery:
    """The app's state: the folder, its store and catalogue, the session's token."""

    def __init__(self, output_dir: Path, token: str | None = None) -> None:
        self.output_dir = output_dir
        self.token = token or new_token()
        self.store = ReviewStore(output_dir)
        self.catalog = Catalog(output_dir)
        self._lock = threading.Lock()
        self.origins: set[str] = set()  # this server's own pages (set with the port)

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
        text = _asset("index.html").replace("{{FOLDER}}", html.escape(str(self.output_dir)))
        headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": "frame-ancestors 'none'",
        }
        return HTMLResponse(text, headers=headers)

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

    def _write(self, action: Callable[[Fields], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                origin = request.headers.get("origin")
                if origin is not None and origin not in self.origins:
                    raise BadRequest(403, "a write must come from the gallery's own page")
                fields = await json_fields(request)
                with self._lock:
                    result = action(fields)
            except BadRequest as exc:
                return JSONResponse({"error": exc.reason}, status_code=exc.status)
            except InputError as exc:
                return JSONResponse({"error": str(exc)[:300]}, status_code=400)
            except PersonframesError as exc:  # the database could not take it
                return JSONResponse({"error": str(exc)[:300]}, status_code=500)
            return JSONResponse({"ok": True, "result": result})

        return endpoint

    def _person(self, fields: Fields, name: str) -> str:
        """A person of this folder (VIDEO:ID) named by field ``name``; 404 otherwise."""
        person = fields.text(name)
        if person not in {e.person for e in self.catalog.entries()}:
            raise BadRequest(404, f"{name}: no person {quoted(person)} in this folder")
        return person

    def _decide(self, fields: Fields) -> str:
        path, decision = fields.text("path"), fields.text("decision")
        if decision not in (*DECISIONS, UNREVIEWED):
            raise BadRequest(
                400, f"decision: {quoted(decision)} is not accepted, rejected or unreviewed"
            )
        if path not in self.catalog.served_paths():
            raise BadRequest(400, f"path: {quoted(path)} is not an image of this folder")
        self.store.decide(path, decision)
        return decision

    def _merge(self, fields: Fields) -> str:
        source, target = self._person(fields, "source"), self._person(fields, "target")
        return self.store.merge(source, target)

    def _split(self, fields: Fields) -> None:
        person = self._person(fields, "person")
        if self.store.root(person) == person:
            raise BadRequest(409, f"person: {quoted(person)} is not merged into another")
        self.store.split(person)

    def _rename(self, fields: Fields) -> str:
        person, name = self._person(fields, "person"), fields.text("name")
        if len(name) > 200:
            raise BadRequest(400, "name: longer than 200 characters")
        return self.store.rename(person, name)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page),
            Route("/static/{name}", self.asset),
            Route("/api/state", self.api_state),
            Route("/api/events", self.events),
            Route("/files/{path:path}", self.file),
            Route("/api/decide", self._write(self._decide), methods=["POST"]),
            Route("/api/merge", self._write(self._merge), methods=["POST"]),
            Route("/api/split", self._write(self._split), methods=["POST"]),
            Route("/api/rename", self._write(self._rename), methods=["POST"]),
        ]


def create_app(gallery: Gallery, port: int) -> Starlette:
    hosts = [HOST, "localhost", f"{HOST}:{port}", f"localhost:{port}"]
    gallery.origins = {f"http://{HOST}:{port}", f"http://localhost:{port}"}
    return Starlette(
        routes=gallery.routes(),
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
            Middleware(TokenGate, token=gallery.token, port=port),
        ],
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
    url = f"http://{HOST}:{bound}/?{TOKEN_PARAM}={gallery.token}"
    app = create_app(gallery, bound)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    say(f"Reviewing {output_dir} at {url} (Ctrl+C to stop)")
    opener: Path | None = None
    try:
        if open_browser:
            opener = forwarding_file(state_folder(output_dir.absolute()), url)
            threading.Thread(target=webbrowser.open, args=(opener.as_uri(),), daemon=True).start()
        server.run(sockets=[sock])
    finally:
        sock.close()
        gallery.close()
        if opener is not None:
            with contextlib.suppress(OSError):
                opener.unlink()
