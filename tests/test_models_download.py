"""Model catalogue, cache and downloads, against a real http.server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from personframes.cli.models import models as models_cli
from personframes.errors import DownloadError, ModelError, UnknownIdError
from personframes.models import (
    CATALOGUE,
    MODEL_IDS,
    ModelFile,
    ModelSpec,
    download_file,
    fetch_model,
    get_model,
    is_installed,
    resolve_cache_dir,
    resolve_model,
    verify_models,
)
from personframes.models.bundled import BUNDLED_DIR
from personframes.models.cache import ENV_CACHE_DIR, default_cache_dir

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        if self.path == "/500":
            self.send_error(500, "boom")
            return
        if self.path.startswith("/redirect"):
            target = {
                "/redirect-http": "http://example.com/x.pth",  # a downgrade off localhost
                "/redirect-local": "/ok",
            }[self.path]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/big":  # more than the pinned size
            body = PAYLOAD + b"x" * 1000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/trickle":  # a few bytes at a time, then nothing more
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            for i in range(30):
                try:
                    self.wfile.write(PAYLOAD[i : i + 1])
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
            self.close_connection = True
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.path != "/norange":
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        truncate = self.path == "/truncate" or (
            self.path == "/truncate-once" and len(srv.requests) == 1
        )
        if truncate:
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    requests: list[tuple[str, str | None]]


@pytest.fixture()
def server() -> Iterator[tuple[str, _Server]]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", srv
    finally:
        srv.shutdown()
        srv.server_close()


def _get(base: str, path: str, dest: Path, **kw: object) -> Path:
    return download_file(
        f"{base}{path}",
        dest,
        SHA,
        len(PAYLOAD),
        allow_http_localhost=True,
        progress=False,
        retry_wait=0.0,
        **kw,
    )  # type: ignore[arg-type]


def test_download_success(server: tuple[str, _Server], tmp_path: Path) -> None:
    base, _ = server
    dest = _get(base, "/ok", tmp_path / "m" / "model.bin")
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "m" / "model.bin.part").exists()


def test_download_resumes_partial_part_file(server: tuple[str, _Server], tmp_path: Path) -> None:
    base, srv = server
    dest = tmp_path / "model.bin"
    (tmp_path / "model.bin.part").write_bytes(PAYLOAD[:100_000])
    _get(base, "/ok", dest)
    assert dest.read_bytes() == PAYLOAD
    assert srv.requests == [("/ok", "bytes=100000-")]


def test_download_restarts_when_server_ignores_range(
    server: tuple[str, _Server], tmp_path: Path
) -> None:
    base, _ = server
    (tmp_path / "model.bin.part").write_bytes(PAYLOAD[:1000])
    assert _get(base, "/norange", tmp_path / "model.bin").read_bytes() == PAYLOAD


def test_truncated_response_is_resumed_on_retry(
    server: tuple[str, _Server], tmp_path: Path
) -> None:
    base, srv = server
    dest = _get(base, "/truncate-once", tmp_path / "model.bin", retries=2)
    assert dest.read_bytes() == PAYLOAD
    assert len(srv.requests) == 2 and srv.requests[1][1] is not None  # second asked for a Range


def test_truncated_response_gives_download_error(
    server: tuple[str, _Server], tmp_path: Path
) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="failed after 2 attempts"):
        _get(base, "/truncate", tmp_path / "model.bin", retries=1)
    assert not (tmp_path / "model.bin").exists()


def test_wrong_hash_deletes_file(server: tuple[str, _Server], tmp_path: Path) -> None:
    base, _ = server
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError, match=r"checksum mismatch.*deleted"):
        download_file(
            f"{base}/ok", dest, "0" * 64, len(PAYLOAD), allow_http_localhost=True, progress=False
        )
    assert not dest.exists() and not (tmp_path / "model.bin.part").exists()


def test_http_500_gives_download_error(server: tuple[str, _Server], tmp_path: Path) -> None:
    base, srv = server
    with pytest.raises(DownloadError, match="HTTP 500"):
        _get(base, "/500", tmp_path / "model.bin", retries=1)
    assert len(srv.requests) == 2  # retried once


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://example.com/x.pth", True),  # plain http off localhost: never
        ("http://127.0.0.1:1/x.pth", False),  # localhost only with the explicit flag
        ("ftp://example.com/x.pth", True),
        ("file:///etc/passwd", True),
    ],
)
def test_only_https_is_allowed(url: str, allow: bool, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="only https"):
        download_file(url, tmp_path / "x", SHA, allow_http_localhost=allow, progress=False)


def test_error_messages_hide_credentials_and_query(tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        download_file(
            "http://user:secret@example.com/x.pth?token=abc", tmp_path / "x", SHA, progress=False
        )
    assert "secret" not in str(info.value) and "token" not in str(info.value)


def _local_spec(base: str, sha: str = SHA) -> ModelSpec:
    spec = CATALOGUE["realesrgan-x4plus-pth"]
    file = ModelFile(name="tiny.pth", sha256=sha, size=len(PAYLOAD), url=f"{base}/ok")
    return replace(spec, id="realesrgan-x4plus-pth", files=(file,))


def test_fetch_model_then_verify_and_repair(server: tuple[str, _Server], tmp_path: Path) -> None:
    base, _ = server
    spec = _local_spec(base)
    resolved = fetch_model(spec, tmp_path, progress=False, allow_http_localhost=True)
    path = resolved.paths["tiny.pth"]
    assert path == tmp_path / spec.id / "tiny.pth" and is_installed(spec, tmp_path)
    # Corrupt it: resolve_model names the file and the repair command.
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"tiny\.pth is corrupt.*personframes models fetch"):
        resolve_model(spec, tmp_path)
    # fetch again replaces the bad copy.
    fetch_model(spec, tmp_path, progress=False, allow_http_localhost=True)
    assert path.read_bytes() == PAYLOAD


def test_catalogue_ids_and_unknown_id() -> None:
    restoration = {s.id for s in CATALOGUE.values() if s.kind in ("sr", "face")}
    assert set(MODEL_IDS) == restoration
    # Every model file the tool loads is an entry, the bundled analysis models included.
    bundled = {f.name for s in CATALOGUE.values() for f in s.files if f.bundled}
    assert bundled == {
        p.name for p in BUNDLED_DIR.iterdir() if p.suffix in (".onnx", ".tflite", ".dat")
    }
    for spec in CATALOGUE.values():
        for file in spec.files:
            assert len(file.sha256) == 64 and file.size > 0
            assert file.url is None or file.url.startswith("https://")
    assert not CATALOGUE["codeformer"].commercial_use
    with pytest.raises(UnknownIdError, match="known: realesrgan-x4plus"):
        get_model("nope")


def test_embedded_ncnn_model_is_installed_and_verifies() -> None:
    spec = get_model("realesrgan-x4plus")
    resolved = resolve_model(spec)  # hashes the package's files against the pinned sha256
    assert all("site-packages" in str(p) for p in resolved.paths.values())
    statuses = verify_models(model_ids=["realesrgan-x4plus"])
    assert [s.status for s in statuses] == ["ok", "ok"]


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_CACHE_DIR, raising=False)
    default = resolve_cache_dir()
    assert default == default_cache_dir() and default.parts[-2:] == ("personframes", "models")
    assert "site-packages" not in str(default) and default != Path.cwd()
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "cfg") == tmp_path / "cfg"


def test_cli_models_list_and_verify(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(models_cli, ["list", "--cache-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    for model_id in MODEL_IDS:
        assert model_id in listed.output
    assert "NON-COMMERCIAL" in listed.output
    # A corrupt cached copy of the embedded model is reported with the repair command.
    bad = tmp_path / "realesrgan-x4plus" / "realesrgan-x4plus.param"
    bad.parent.mkdir()
    bad.write_bytes(b"x" * get_model("realesrgan-x4plus").files[0].size)
    args = ["verify", "realesrgan-x4plus", "--cache-dir", str(tmp_path)]
    result = runner.invoke(models_cli, args)
    assert result.exit_code == 1
    assert isinstance(result.exception, ModelError)
    assert "CORRUPT" in result.output
    assert "personframes models fetch realesrgan-x4plus" in result.output
    # fetch repairs it by removing the bad copy (the package copy is good).
    fixed = runner.invoke(models_cli, ["fetch", "realesrgan-x4plus", "--cache-dir", str(tmp_path)])
    assert fixed.exit_code == 0, fixed.output
    assert not bad.exists()


def test_redirect_to_plain_http_is_refused(server: tuple[str, _Server], tmp_path: Path) -> None:
    base, srv = server
    with pytest.raises(DownloadError, match=r"redirected: refusing .*only https"):
        _get(base, "/redirect-http", tmp_path / "f.bin")
    assert [p for p, _ in srv.requests] == ["/redirect-http"]  # never followed
    assert not (tmp_path / "f.bin").exists()


def test_redirect_to_an_allowed_url_is_followed(
    server: tuple[str, _Server], tmp_path: Path
) -> None:
    base, srv = server
    assert _get(base, "/redirect-local", tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert [p for p, _ in srv.requests] == ["/redirect-local", "/ok"]


def test_body_larger_than_pinned_size_is_refused(
    server: tuple[str, _Server], tmp_path: Path
) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="more than the 300000 bytes"):
        _get(base, "/big", tmp_path / "f.bin")
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_trickling_server_is_cut_not_waited_for(
    server: tuple[str, _Server], tmp_path: Path
) -> None:
    base, srv = server
    start = time.monotonic()
    with pytest.raises(DownloadError, match="too slow"):
        _get(base, "/trickle", tmp_path / "f.bin", retries=1, min_rate=1000, rate_window=0.3)
    assert time.monotonic() - start < 10
    assert len(srv.requests) == 2  # one retry, then the error
