"""The gallery's write requests: a bounded JSON object of short strings.

A body is read in chunks and dropped past ``MAX_BODY`` (413), never echoed back; its
nesting is measured before it is parsed (deep nesting would exhaust Python's stack);
each field must be a string of bounded length. Every refusal is a ``BadRequest``: a
status and a short reason."""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.requests import Request

MAX_BODY = 64 * 1024
MAX_DEPTH = 4  # the bodies the page sends are flat objects
MAX_FIELD = 4096
SHOWN = 60  # characters of a value a reason quotes


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def quoted(value: str) -> str:
    """``value`` as a reason quotes it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 4] + "...'"


async def read_body(request: Request) -> bytes:
    """The body, at most ``MAX_BODY`` bytes (413 beyond, read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest(400, "bad Content-Length")
        if int(declared) > MAX_BODY:
            raise BadRequest(413, f"request body over {MAX_BODY // 1024} KiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, f"request body over {MAX_BODY // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def nesting(data: bytes, limit: int) -> int:
    """How deep ``data``'s arrays and objects nest (outside strings), counted up to just
    past ``limit``: one pass, whatever the input."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_object(data: bytes) -> dict[str, object]:
    """``data`` as a JSON object (400 otherwise)."""
    if nesting(data, MAX_DEPTH) > MAX_DEPTH:
        raise BadRequest(400, f"JSON nested deeper than {MAX_DEPTH}")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadRequest(400, f"not JSON ({type(exc).__name__})") from exc
    if not isinstance(body, dict):
        raise BadRequest(400, "not a JSON object")
    return body


@dataclass(frozen=True)
class Fields:
    """The string fields of a request's JSON object."""

    body: dict[str, object]

    def text(self, name: str) -> str:
        value = self.body.get(name)
        if not isinstance(value, str):
            raise BadRequest(400, f"{name!r}: missing or not a string")
        if len(value) > MAX_FIELD:
            raise BadRequest(400, f"{name!r}: longer than {MAX_FIELD} characters")
        return value


async def json_fields(request: Request) -> Fields:
    """The request's JSON object: 415 unless sent as JSON, 413 too big, 400 not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest(415, "send the body as application/json")
    return Fields(parse_object(await read_body(request)))
