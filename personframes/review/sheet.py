"""Contact sheets: every image of the folder as a thumbnail, grouped by person, in one
self-contained HTML file (thumbnails embedded, no server) or one PNG. A clip shows its
first frame, marked as a clip."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageDraw, ImageOps

from ..errors import InputError
from ..output.writer import atomic_write_bytes
from ..state.review import UNREVIEWED, Decision, ReviewStore
from ..video.decode import VideoReader
from .catalog import Catalog, Entry
from .snapshot import people_of

THUMB = 160  # px, the longest side
COLOURS = {"accepted": (47, 191, 113), "rejected": (229, 72, 77), UNREVIEWED: (52, 56, 69)}


def _first_frame(path: Path) -> PILImage.Image:
    """A clip's first frame (a clip without one: InputError from the reader)."""
    with VideoReader(path) as reader:
        _, _, _, image = next(reader.frames())
        return PILImage.fromarray(image())


def _thumbnail(entry: Entry, output_dir: Path) -> PILImage.Image:
    if entry.is_clip:
        thumb = _first_frame(output_dir / entry.path)
    else:
        with PILImage.open(output_dir / entry.path) as image:
            thumb = ImageOps.exif_transpose(image).convert("RGB")
    thumb.thumbnail((THUMB, THUMB))
    if entry.is_clip:  # a play mark in the corner: this is the first frame of a clip
        ImageDraw.Draw(thumb).polygon([(6, 6), (6, 24), (21, 15)], fill=(245, 184, 61))
    return thumb


def _grouped(output_dir: Path) -> tuple[list[tuple[str, list[Entry]]], dict[str, Decision]]:
    with ReviewStore(output_dir, reading=True) as store:
        entries = Catalog(output_dir).entries()
        decisions = store.decisions()
        people = people_of(entries, store)
    if not entries:
        raise InputError(f"{output_dir}: no images yet")
    group_of = {member: root for root, p in people.items() for member in p["members"]}
    by_group: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_group[group_of[entry.person]].append(entry)
    groups = [(str(people[root]["label"]), by_group[root]) for root in people]
    return groups, decisions


def _html(output_dir: Path) -> bytes:
    groups, decisions = _grouped(output_dir)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>personframes: {html.escape(str(output_dir))}</title><style>",
        "body{font:13px system-ui,sans-serif;background:#16181d;color:#e8e8ea;margin:16px}",
        "figure{display:inline-block;margin:4px;width:164px;vertical-align:top}",
        "img{border:2px solid #343845;border-radius:4px;max-width:160px;max-height:160px}",
        "figure.accepted img{border-color:#2fbf71}",
        "figure.rejected img{border-color:#e5484d;opacity:.4}",
        "figcaption{font-size:11px;color:#9aa0aa;word-break:break-all}</style></head><body>",
        f"<h1>{html.escape(str(output_dir))}</h1>",
    ]
    for label, entries in groups:
        parts.append(f"<h2>{html.escape(label)} ({len(entries)})</h2>")
        for entry in entries:
            buffer = io.BytesIO()
            _thumbnail(entry, output_dir).save(buffer, "JPEG", quality=85)
            data = base64.b64encode(buffer.getvalue()).decode()
            decision = decisions.get(entry.path, UNREVIEWED)
            caption = f"{entry.path} · {entry.pose} / {entry.head} / {entry.shot} · {decision}"
            parts.append(
                f"<figure class='{decision}'><img src='data:image/jpeg;base64,{data}' "
                f"alt='{html.escape(entry.path)}'><figcaption>{html.escape(caption)}"
                "</figcaption></figure>"
            )
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8")


def _png(output_dir: Path) -> bytes:
    groups, decisions = _grouped(output_dir)
    columns, cell, label_h = 8, THUMB + 8, 22
    rows: list[tuple[str, list[Entry]]] = []
    for label, entries in groups:
        for start in range(0, len(entries), columns):
            rows.append((label if start == 0 else "", entries[start : start + columns]))
    height = sum(cell + (label_h if label else 0) for label, _ in rows) + 8
    sheet = PILImage.new("RGB", (columns * cell + 8, height), (22, 24, 29))
    draw = ImageDraw.Draw(sheet)
    y = 4
    for label, entries in rows:
        if label:
            draw.text((8, y + 4), label, fill=(232, 232, 234))
            y += label_h
        for column, entry in enumerate(entries):
            x = 4 + column * cell
            colour = COLOURS[decisions.get(entry.path, UNREVIEWED)]
            draw.rectangle((x, y, x + cell - 3, y + cell - 3), outline=colour, width=2)
            thumb = _thumbnail(entry, output_dir)
            sheet.paste(
                thumb, (x + 3 + (THUMB - thumb.width) // 2, y + 3 + (THUMB - thumb.height) // 2)
            )
        y += cell
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    return buffer.getvalue()


def write_sheet(output_dir: Path, path: Path) -> int:
    """Write the contact sheet (``.html`` or ``.png`` by its suffix); the bytes written."""
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise InputError(f"{path}: a contact sheet is .html or .png")
    data = _png(output_dir) if suffix == ".png" else _html(output_dir)
    atomic_write_bytes(path, data)
    return len(data)
