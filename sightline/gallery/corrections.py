""""Not this person": a face wrongly matched to a subject becomes an encrypted negative example of them.

The negative is the embedding of the face that was wrongly named, encrypted
like a template and bound to the subject (associated data), erased, exported
and re-keyed with the subject. Matching then requires a face to beat the
subject's closest negative by a margin (see :func:`sightline.gallery.matching.decide`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sightline.errors import NoFaceError, NotFoundError, SightlineError
from sightline.events.store import get_event
from sightline.gallery.context import GalleryContext
from sightline.gallery.records import negative_aad
from sightline.gallery.search import SearchIndex
from sightline.store import changes_repo, templates_repo
from sightline.store.tables import NegativeExample
from sightline.vision.faces.types import Face
from sightline.vision.image_io import ImageInput

MIN_BOX_OVERLAP = 0.3  # a given box must overlap the detected face this much (IoU) to pick it


class CorrectionService:
    """Records operators' "not this person" corrections."""

    def __init__(self, ctx: GalleryContext, search: SearchIndex) -> None:
        self.ctx = ctx
        self.search = search

    def mark_not_subject(self, subject_id: str, image: ImageInput, *, box: Sequence[float] | None = None,
                         source: str = "identify", actor: str | None = None) -> dict[str, object]:
        """The face in ``image`` (at ``box``, else the one most like the subject) is not ``subject_id``."""
        actor = actor or self.ctx.actor
        embedder = self.ctx.faces.spec.embedder
        with self.ctx.sessions() as session:
            self.ctx.require_subject(session, subject_id)
            templates = [self.ctx.decrypt_template(t)
                         for t in templates_repo.subject_templates(session, subject_id, embedder)]
        faces = [f for f in self.ctx.faces.detect(image, embed=True) if f.embedding is not None]
        face = _pick_face(faces, box, templates)
        vector = np.asarray(face.embedding, dtype=np.float32)
        score = float(np.max(np.vstack(templates) @ vector)) if templates else None
        with self.ctx.sessions.begin() as session:
            self.ctx.require_subject(session, subject_id)
            row = templates_repo.add_row(session, NegativeExample(
                subject_id=subject_id, embedder=embedder, dim=int(vector.size), source=source[:100],
                created_by=actor[:200], key_id="", nonce=b"", ciphertext=b"", created_at=datetime.now(UTC)))
            row.key_id, row.nonce, row.ciphertext = self.ctx.keys.encrypt(vector.tobytes(),
                                                                          negative_aad(row.id, subject_id))
            self.ctx.audit.append(session, actor=actor, action="negative_add", subject_id=subject_id,
                                  details={"negative_id": row.id, "source": source[:100],
                                           "score": None if score is None else round(score, 4)})
            negative_id = row.id
            changes_repo.record(session, "negative", subject_id)  # other replicas reload the subject's negatives
        self.search.state()  # built before the new negative is remembered, so it is not loaded twice
        self.search.add_negative(subject_id, vector)
        return {"subject_id": subject_id, "negative_id": negative_id, "source": source,
                "box": [round(float(v), 1) for v in face.box],
                "score": None if score is None else round(score, 4)}

    def mark_event_wrong(self, event_id: str, *, subject_id: str | None = None,
                         actor: str | None = None) -> dict[str, object]:
        """A ``person_seen`` event named the wrong person: its snapshot's face becomes a negative of them.

        ``subject_id``, when given, must be the subject the event named.
        """
        with self.ctx.sessions() as session:
            if subject_id is not None:
                self.ctx.require_subject(session, subject_id)
            event = get_event(session, event_id)
        if event.type.value != "person_seen" or not event.subject_id:
            raise SightlineError(f"event {event_id} is a {event.type.value} event; only person_seen events name "
                                 "someone", code="not_a_recognition")
        if subject_id is not None and event.subject_id != subject_id:
            raise SightlineError(f"event {event_id} did not name subject {subject_id}", code="wrong_subject")
        if not event.snapshot or not Path(event.snapshot).is_file():
            raise NotFoundError(f"event {event_id} has no snapshot left to learn the wrong face from")
        return self.mark_not_subject(event.subject_id, Path(event.snapshot), source=f"event:{event_id}"[:100],
                                     actor=actor)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    w, h = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - w * h
    return w * h / union if union > 0 else 0.0


def _pick_face(faces: list[Face], box: Sequence[float] | None, templates: list[np.ndarray]) -> Face:
    if not faces:
        raise NoFaceError("no face found in the image to mark as 'not this person'")
    if box is not None:
        if len(box) != 4:
            raise SightlineError("box must be [x1, y1, x2, y2]", code="bad_request")
        best = max(faces, key=lambda f: _iou(f.box, box))
        if _iou(best.box, box) < MIN_BOX_OVERLAP:
            raise NoFaceError("no face found at the given box")
        return best
    if len(faces) == 1 or not templates:
        return max(faces, key=lambda f: f.width * f.height)
    gallery = np.vstack(templates)
    return max(faces, key=lambda f: float(np.max(gallery @ np.asarray(f.embedding, dtype=np.float32))))
