"""The folder as the gallery shows it: images with their decisions and person groups,
the groups with their names, and each video's progress (one JSON document)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..state.review import UNREVIEWED, ReviewStore
from .catalog import Catalog, Entry

SAMPLES = 6  # images the person view shows of each person, faces first, best first


def person_label(person: str, several_videos: bool) -> str:
    """``person 3``, or ``clip person 3`` when the folder holds several videos."""
    video, _, number = person.rpartition(":")
    return f"{video} person {number}" if several_videos else f"person {number}"


def people_of(entries: list[Entry], store: ReviewStore) -> dict[str, dict[str, Any]]:
    """Person groups (root -> label, name, members, count of images, of clips, sample
    images), by root."""
    several = len({e.video for e in entries}) > 1
    groups = store.groups({e.person for e in entries})
    names = store.names()
    members: dict[str, set[str]] = defaultdict(set)
    images: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        root = groups[entry.person]
        members[root].add(entry.person)
        images[root].append(entry)
    people = {}
    for root in sorted(members, key=lambda r: (r.rpartition(":")[0], int(r.rpartition(":")[2]))):
        shown = [e for e in images[root] if not e.is_clip]  # clips: counted, not samples
        best = sorted(shown, key=lambda e: (e.kind != "face", -(e.quality or 0.0), e.path))
        people[root] = {
            "id": root,
            "label": names.get(root) or person_label(root, several),
            "name": names.get(root),
            "members": sorted(members[root]),
            "count": len(shown),
            "clips": len(images[root]) - len(shown),
            "samples": [e.path for e in best[:SAMPLES]],
        }
    return people


def snapshot(catalog: Catalog, store: ReviewStore) -> dict[str, Any]:
    entries = catalog.entries()
    decisions = store.decisions()
    people = people_of(entries, store)
    group_of = {member: root for root, p in people.items() for member in p["members"]}
    items = [
        entry.to_json()
        | {"decision": decisions.get(entry.path, UNREVIEWED), "group": group_of[entry.person]}
        for entry in entries
    ]
    return {
        "folder": str(catalog.output_dir),
        "items": items,
        "people": list(people.values()),
        "progress": [p.to_json() for p in catalog.progress()],
    }
