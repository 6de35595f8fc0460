"""Fetching and verifying model files.

Downloads are https only, on every redirect hop too (plain http is accepted for
127.0.0.1/localhost only, and only when the caller passes ``allow_http_localhost=True``,
for tests). A body larger than the catalogue's size is refused, and a transfer slower
than ``min_rate`` bytes/s over ``rate_window`` seconds is cut and retried, so a
trickling server cannot hang a fetch.
A file streams to ``<name>.part``; a retry resumes it with an HTTP Range
request; its SHA-256 is checked before the atomic rename into place, and a
mismatch deletes it. Nothing is ever unpickled here.
"""

from __future__ import annotations

import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..errors import DownloadError, ModelError, OutputError
from .bundled import bundled_path
from .cache import (
    ResolvedModel,
    cached_path,
    check_file,
    locate_file,
    package_path,
    resolve_cache_dir,
    resolve_model,
    sha256_file,
)
from .catalogue import CATALOGUE, ModelFile, ModelSpec

log = logging.getLogger(__name__)

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CHUNK = 1 << 16
USER_AGENT = "personframes-model-fetch/0.1"


def _safe_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to log."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_url(url: str, *, allow_http_localhost: bool = False) -> None:
    """Refuse anything but https (http to localhost only when explicitly allowed)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS and allow_http_localhost:
        return
    raise DownloadError(f"refusing to download {_safe_url(url)}: only https URLs are allowed")


class _Retryable(Exception):
    """A transient failure: retry, resuming the .part file."""


class _HttpsRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL that :func:`check_url` accepts."""

    def __init__(self, allow_http_localhost: bool) -> None:
        super().__init__()
        self.allow_http_localhost = allow_http_localhost

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            check_url(newurl, allow_http_localhost=self.allow_http_localhost)
        except DownloadError as exc:
            raise DownloadError(f"{_safe_url(req.full_url)} redirected: {exc}") from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@contextmanager
def _progress(enabled: bool, name: str, total: int | None) -> Iterator[tuple[Progress, TaskID]]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    with progress:
        task = progress.add_task(name, total=total)
        yield progress, task


def download_file(
    url: str,
    dest: Path,
    sha256: str,
    size: int | None = None,
    *,
    allow_http_localhost: bool = False,
    retries: int = 3,
    retry_wait: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
    min_rate: int = 16_384,
    rate_window: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest`` (atomically), checking size and SHA-256.

    Raises DownloadError on refusal, server errors, truncation after all
    retries, or a checksum mismatch (the partial file is then deleted).
    """
    check_url(url, allow_http_localhost=allow_http_localhost)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    shown = _safe_url(url)
    opener = urllib.request.build_opener(_HttpsRedirects(allow_http_localhost))
    last_problem = "no attempt made"
    finished = False
    with _progress(progress, dest.name, size) as (bar, task):
        for attempt in range(1, retries + 2):
            try:
                _fetch_once(opener, url, part, size, timeout, (min_rate, rate_window), bar, task)
            except _Retryable as exc:
                last_problem = str(exc)
                if attempt > retries:
                    break
                kept = part.stat().st_size if part.exists() else 0
                log.warning(
                    "download of %s interrupted (%s); retry %d/%d resumes from %d bytes",
                    shown,
                    last_problem,
                    attempt,
                    retries,
                    kept,
                )
                time.sleep(retry_wait * attempt)
            else:
                finished = True
                break
    have = part.stat().st_size if part.exists() else 0
    if not finished:
        raise DownloadError(
            f"download of {shown} failed after {retries + 1} attempts: {last_problem} "
            f"({have} bytes kept in {part}; run the command again to resume)"
        )
    digest = sha256_file(part)
    if digest != sha256:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"checksum mismatch for {dest.name} from {shown}: got sha256 {digest}, expected "
            f"{sha256}; the downloaded file was deleted"
        )
    os.replace(part, dest)
    log.info("downloaded %s (%d bytes, sha256 verified)", dest, have)
    return dest


def _fetch_once(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: Path,
    size: int | None,
    timeout: float,
    rate: tuple[int, float],
    bar: Progress,
    task: TaskID,
) -> None:
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have == size:
        return  # already complete: only the hash check is left
    if size is not None and have > size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    shown = _safe_url(url)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: restart from scratch
            part.unlink(missing_ok=True)
            raise _Retryable("server refused to resume; restarting") from None
        if exc.code >= 500 or exc.code == 429:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"download of {shown} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"connection failed: {reason}") from None
    with response:
        status = response.status
        if have and status != 206:  # server ignored the Range header: start over
            have = 0
        mode = "ab" if have else "wb"
        expected = response.headers.get("Content-Length")
        bar.update(task, completed=have)
        received = 0
        min_rate, window = rate
        window_start, window_bytes = time.monotonic(), 0
        try:
            with part.open(mode) as out:
                while chunk := response.read1(_CHUNK):
                    if size is not None and have + received + len(chunk) > size:
                        out.close()
                        part.unlink(missing_ok=True)
                        raise DownloadError(
                            f"download of {shown} refused: the server sends more than the "
                            f"{size} bytes the catalogue pins; the partial file was deleted"
                        )
                    out.write(chunk)
                    received += len(chunk)
                    window_bytes += len(chunk)
                    bar.update(task, advance=len(chunk))
                    elapsed = time.monotonic() - window_start
                    if elapsed >= window:
                        if window_bytes < min_rate * elapsed:
                            raise _Retryable(
                                f"too slow: {window_bytes} bytes in {elapsed:.0f} s "
                                f"(minimum {min_rate} bytes/s)"
                            )
                        window_start, window_bytes = time.monotonic(), 0
        except (http.client.IncompleteRead, OSError) as exc:
            got = have + received
            raise _Retryable(f"connection lost after {got} bytes ({type(exc).__name__})") from None
        if expected is not None and received < int(expected):
            raise _Retryable(f"truncated response: {received} of {expected} bytes")
        if size is not None and have + received < size:
            raise _Retryable(f"truncated download: {have + received} of {size} bytes")


@dataclass(frozen=True)
class FileStatus:
    """Verification state of one model file."""

    model_id: str
    file: str
    path: Path | None
    status: Literal["ok", "missing", "corrupt"]
    detail: str = ""

    @property
    def repair(self) -> str:
        return f"personframes models fetch {self.model_id}"


def fetch_model(
    spec: ModelSpec,
    cache_dir: Path | str | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    allow_http_localhost: bool = False,
) -> ResolvedModel:
    """Make every file of ``spec`` present and verified; download what is missing or bad."""
    for file in spec.files:
        _fetch_file(spec, file, cache_dir, force, progress, allow_http_localhost)
    return resolve_model(spec, cache_dir)


def _fetch_file(
    spec: ModelSpec,
    file: ModelFile,
    cache_dir: Path | str | None,
    force: bool,
    progress: bool,
    allow_http_localhost: bool,
) -> None:
    if file.bundled:
        bundled_path(file.name)  # nothing to download: a damaged file names the repair
        return
    dest = cached_path(spec, file, cache_dir)
    existing = locate_file(spec, file, cache_dir)
    if existing is not None and not force:
        problem = check_file(existing, file)
        if problem is None:
            log.info("%s: %s already installed (%s)", spec.id, file.name, existing)
            return
        log.warning("%s: %s is corrupt (%s); replacing it", spec.id, existing, problem)
        if existing == dest:
            dest.unlink()
    if file.url is None:
        source = package_path(file)
        if source is None or check_file(source, file) is not None:
            hint = spec.install_hint or f"install {file.package}"
            raise ModelError(
                f"{spec.id}: {file.name} ships inside the {file.package} package, which is "
                f"missing or damaged: run `{hint}`"
            )
        return  # the package copy is good; a bad cache copy was removed above
    _check_cache_folder(dest.parent)
    log.info(
        "%s: downloading %s (%.1f MB) from %s",
        spec.id,
        file.name,
        file.size / 1e6,
        urllib.parse.urlsplit(file.url).hostname,
    )
    download_file(
        file.url,
        dest,
        file.sha256,
        file.size,
        allow_http_localhost=allow_http_localhost,
        progress=progress,
    )


def _check_cache_folder(folder: Path) -> None:
    """OutputError (one line, with what to do) unless models can be stored in ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".pf-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"cannot store models in {folder} ({exc.strerror or exc}); choose another "
            "folder with PERSONFRAMES_CACHE_DIR or models.cache_dir"
        ) from exc


def verify_models(
    cache_dir: Path | str | None = None, model_ids: list[str] | None = None
) -> list[FileStatus]:
    """Re-hash every installed file (of the given models, or of all)."""
    statuses: list[FileStatus] = []
    ids = model_ids if model_ids is not None else list(CATALOGUE)
    for model_id in ids:
        spec = CATALOGUE[model_id]
        for file in spec.files:
            path = locate_file(spec, file, cache_dir)
            if path is None:
                statuses.append(FileStatus(spec.id, file.name, None, "missing"))
                continue
            problem = check_file(path, file)
            status: Literal["ok", "corrupt"] = "ok" if problem is None else "corrupt"
            statuses.append(FileStatus(spec.id, file.name, path, status, problem or ""))
    return statuses


__all__ = [
    "FileStatus",
    "check_url",
    "download_file",
    "fetch_model",
    "resolve_cache_dir",
    "verify_models",
]
