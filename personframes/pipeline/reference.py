"""Reference faces: keep the people who look like a photo (``--reference-face``), or drop
them (``--exclude-face``).

Each photo's largest face is embedded once per session. A person matches when the
median, over their faces that have an identity (turned toward the camera, with
detail), of the distance to the nearest photo is within ``selection.reference_distance``;
a person with no such face matches nobody (a back, a profile: no evidence either way),
so ``--reference-face`` leaves them out and ``--exclude-face`` keeps them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..detect import configured_face_detector
from ..detect.face_identity import Embedding, FaceEmbedder, face_embedder, identity_distance
from ..errors import InputError
from ..image_file import read_image

if TYPE_CHECKING:
    from ..config import Config
    from ..models.session import ModelSession


@dataclass(frozen=True)
class ReferenceFaces:
    """The embeddings of the photos to keep (``include``) and to drop (``exclude``)."""

    include: tuple[Embedding, ...] = ()
    exclude: tuple[Embedding, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)


@dataclass(frozen=True)
class PersonMatch:
    """A person's median distance to the nearest reference and to the nearest excluded
    face (None: no face of theirs has an identity, or there is no such photo), and
    whether they are kept."""

    distance: float | None
    exclude_distance: float | None
    kept: bool


def embed_photo(path: Path, config: Config, session: ModelSession) -> Embedding:
    """The embedding of the largest face in the photo at ``path``; InputError (one line)
    when the file is not an image or shows no face."""
    image = read_image(path, config.restore.max_image_pixels).rgb
    faces = configured_face_detector(session, config).detect(image)
    if not faces:
        raise InputError(f"{path}: no face found in this reference photo")
    largest = max(faces, key=lambda f: f.box.area)
    embedder: FaceEmbedder = face_embedder(session)
    return embedder.embed(image, largest.box)


def photo_identity(session: ModelSession, path: Path, config: Config) -> Embedding:
    """The identity embedding of the largest face of the photo at ``path`` (once per
    session and file version); InputError when it is not an image or has no face."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read reference photo ({exc.strerror or exc})") from None
    key = ("photo_identity", str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return session.cached(key, lambda: embed_photo(path, config, session))


def load_reference_faces(config: Config, session: ModelSession) -> ReferenceFaces:
    """The configured reference and excluded photos, embedded (once per session)."""
    selection = config.selection
    if not selection.reference_faces and not selection.exclude_faces:
        return ReferenceFaces()
    return ReferenceFaces(
        include=tuple(photo_identity(session, p, config) for p in selection.reference_faces),
        exclude=tuple(photo_identity(session, p, config) for p in selection.exclude_faces),
    )


def _median_nearest(faces: Sequence[Embedding], photos: Sequence[Embedding]) -> float | None:
    if not faces or not photos:
        return None
    return statistics.median(min(identity_distance(f, p) for p in photos) for f in faces)


def match_people(
    identities: dict[int, list[Embedding]], references: ReferenceFaces, threshold: float
) -> dict[int, PersonMatch]:
    """Per person id: their distances and whether they are kept (see the module doc)."""
    matches = {}
    for person_id, faces in identities.items():
        distance = _median_nearest(faces, references.include)
        excluded = _median_nearest(faces, references.exclude)
        kept = (not references.include or (distance is not None and distance <= threshold)) and (
            excluded is None or excluded > threshold
        )
        matches[person_id] = PersonMatch(
            None if distance is None else round(distance, 4),
            None if excluded is None else round(excluded, 4),
            kept,
        )
    return matches


def nearest_reference(face: Embedding | None, references: ReferenceFaces) -> float | None:
    """One face's distance to the nearest reference photo (None without either)."""
    if face is None or not references.include:
        return None
    return round(min(identity_distance(np.asarray(face), p) for p in references.include), 4)
