"""Enrolment: quality-check photos, encrypt and store their templates, keep the index in step; remove one.

:meth:`EnrolmentService.enroll_image` commits each photo on its own (the CLI:
a killed run loses nothing it reported). :meth:`EnrolmentService.enroll_batch`
and :meth:`EnrolmentService.create_with_images` (the API) commit a subject and
all its photos in one transaction: they land whole or not at all.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sightline.errors import NotFoundError, QualityError, SightlineError
from sightline.gallery.context import GalleryContext
from sightline.gallery.enrol import EnrolResult, QualityGate
from sightline.gallery.search import SearchIndex
from sightline.gallery.subject_service import SubjectService
from sightline.gallery.subjects import SubjectCreate
from sightline.privacy.crypto import image_aad, template_aad
from sightline.store import changes_repo, templates_repo
from sightline.store.tables import EnrolmentImage, Template
from sightline.vision.image_io import ImageInput, load_image


@dataclass
class PreparedFace:
    """An accepted enrolment face, computed but not stored yet."""

    source: str
    vector: np.ndarray
    quality: float
    quality_dict: dict[str, float] = field(default_factory=dict)
    image: tuple[bytes, str] | None = None  # (original bytes, media type) when the photo is kept


class EnrolmentService:
    """Turns photos into encrypted templates of one subject."""

    def __init__(self, ctx: GalleryContext, search: SearchIndex, subjects: SubjectService,
                 gate: QualityGate | None = None) -> None:
        self.ctx = ctx
        self.search = search
        self.subjects = subjects
        self.gate = gate or QualityGate()

    def prepare(self, image: ImageInput, *, source: str | None = None,
                store_image: bool = False) -> PreparedFace | EnrolResult:
        """Quality-gate and embed one photo (no database work); a rejection comes back as an EnrolResult."""
        source = source or (Path(image).name if isinstance(image, str | Path) else "image")
        try:
            pixels = load_image(image)
            face = self.gate.check(self.ctx.faces.detect_array(pixels))
        except (QualityError, SightlineError) as exc:
            return EnrolResult(source, False, reason=exc.code, message=exc.message)
        vector = np.asarray(self.ctx.faces.embedder.embed(pixels, [face])[0], dtype=np.float32)
        return PreparedFace(source, vector, float(face.quality.score) if face.quality else 0.0,
                            face.quality.to_dict() if face.quality else {},
                            _image_bytes(image, pixels) if store_image else None)

    def record_for_image(self, session: Any, subject_id: str, item: PreparedFace, image_id: int,
                         actor: str) -> EnrolResult:
        """Store a template made from the already kept photo ``image_id`` (re-enrolment with another embedder)."""
        return self._record(session, subject_id, item, actor, image_id=image_id)

    def _record(self, session: Any, subject_id: str, item: PreparedFace | EnrolResult, actor: str, *,
                image_id: int | None = None) -> EnrolResult:
        """Store one prepared face (or audit one rejection) inside ``session``'s transaction."""
        if isinstance(item, EnrolResult):
            self.ctx.audit.append(session, actor=actor, action="enrol", subject_id=subject_id, outcome="rejected",
                                  details={"reason": item.reason})
            return item
        if item.image is not None and image_id is None:
            data, media_type = item.image
            stored = templates_repo.add_row(session, EnrolmentImage(
                subject_id=subject_id, media_type=media_type, key_id="", nonce=b"", ciphertext=b"",
                created_at=datetime.now(UTC)))
            stored.key_id, stored.nonce, stored.ciphertext = self.ctx.keys.encrypt(data, image_aad(stored.id,
                                                                                                   subject_id))
            image_id = stored.id
        template = templates_repo.add_row(session, Template(
            subject_id=subject_id, image_id=image_id, backend=self.ctx.faces.backend,
            embedder=self.ctx.faces.spec.embedder, dim=int(item.vector.size), quality=item.quality,
            source=item.source[:500], key_id="", nonce=b"", ciphertext=b"", created_at=datetime.now(UTC)))
        template.key_id, template.nonce, template.ciphertext = self.ctx.keys.encrypt(
            item.vector.tobytes(), template_aad(template.id, subject_id))
        changes_repo.record(session, "enrol", subject_id, [template.id])  # other replicas add it (ids only)
        self.ctx.audit.append(session, actor=actor, action="enrol", subject_id=subject_id, outcome="accepted",
                              details={"template_id": template.id, "quality": round(item.quality, 3),
                                       "image_stored": image_id is not None})
        return EnrolResult(item.source, True, template_id=template.id, quality=item.quality_dict)

    def _index(self, subject_id: str, prepared: Sequence[PreparedFace | EnrolResult],
               results: Sequence[EnrolResult]) -> None:
        for item, result in zip(prepared, results, strict=True):
            if isinstance(item, PreparedFace) and result.template_id is not None:
                self.search.add(result.template_id, subject_id, item.vector)

    def enroll_image(self, subject_id: str, image: ImageInput, *, store_image: bool = False,
                     actor: str | None = None, source: str | None = None) -> EnrolResult:
        """Quality-check one image, encrypt and store its template, audit it, then add it to the index."""
        actor = actor or self.ctx.actor
        with self.ctx.sessions() as session:
            self.ctx.require_subject(session, subject_id)
        item = self.prepare(image, source=source, store_image=store_image)
        with self.ctx.sessions.begin() as session:
            result = self._record(session, subject_id, item, actor)
        self._index(subject_id, [item], [result])
        return result

    def enroll(self, subject_id: str, images: Iterable[ImageInput], *, store_images: bool = False,
               actor: str | None = None) -> list[EnrolResult]:
        """Enrol each image (each committed on its own); rejected images are reported, not raised."""
        return [self.enroll_image(subject_id, image, store_image=store_images, actor=actor) for image in images]

    def enroll_batch(self, subject_id: str, images: Sequence[tuple[str, ImageInput]], *, store_images: bool = False,
                     actor: str | None = None) -> list[EnrolResult]:
        """Enrol ``(source, image)`` pairs in one transaction: all accepted templates land, or none do.

        Raises :class:`QualityError` (and stores nothing but the audit rows) when no photo is usable.
        """
        actor = actor or self.ctx.actor
        with self.ctx.sessions() as session:
            self.ctx.require_subject(session, subject_id)
        prepared = [self.prepare(image, source=source, store_image=store_images) for source, image in images]
        _require_one_accepted(prepared, self.ctx, subject_id, actor)
        with self.ctx.sessions.begin() as session:
            self.ctx.require_subject(session, subject_id)
            results = [self._record(session, subject_id, item, actor) for item in prepared]
        self._index(subject_id, prepared, results)
        return results

    def create_with_images(self, subject: SubjectCreate | None, images: Sequence[tuple[str, ImageInput]], *,
                           store_images: bool = False, actor: str | None = None,
                           **fields: Any) -> tuple[dict[str, object], list[EnrolResult]]:
        """Create a subject together with its photos in one transaction (both land, or neither does)."""
        actor = actor or self.ctx.actor
        record = self.subjects.validate(subject, actor, dict(fields))
        prepared = [self.prepare(image, source=source, store_image=store_images) for source, image in images]
        if images:
            _require_one_accepted(prepared, self.ctx, None, actor)
        with self.ctx.sessions.begin() as session:
            row = self.subjects.insert(session, record, actor)
            results = [self._record(session, row.id, item, actor) for item in prepared]
        self.search.set_subject(row.id, row.name)
        self._index(row.id, prepared, results)
        return self.subjects.show(row.id), results

    def remove_template(self, subject_id: str, template_id: int, *, actor: str | None = None) -> dict[str, object]:
        """Delete one template (and its stored photo): out of the store, the WAL and the index; audited."""
        actor = actor or self.ctx.actor
        with self.ctx.sessions.begin() as session:
            template = templates_repo.get_template(session, template_id)
            if template is None or template.subject_id != subject_id:
                raise NotFoundError(f"subject {subject_id!r} has no template {template_id}")
            image_id = templates_repo.delete_template(session, template_id)
            changes_repo.record(session, "remove", subject_id, [template_id])
            self.ctx.audit.append(session, actor=actor, action="template_remove", subject_id=subject_id,
                                  details={"template_id": template_id, "image_removed": image_id is not None})
        removed = self.search.remove([template_id])
        self.ctx.flush_freed_pages()
        return {"subject_id": subject_id, "template_id": template_id, "removed": True, "index_entries": removed}


def _require_one_accepted(prepared: Sequence[PreparedFace | EnrolResult], ctx: GalleryContext,
                          subject_id: str | None, actor: str) -> None:
    """Refuse a batch in which no photo passed the gate (the rejections are audited, nothing else kept)."""
    if any(isinstance(p, PreparedFace) for p in prepared):
        return
    reasons = sorted({str(p.reason) for p in prepared if isinstance(p, EnrolResult)})
    ctx.audit.record(actor=actor, action="enrol", subject_id=subject_id, outcome="rejected",
                     details={"reasons": reasons, "images": len(prepared)})
    details = "; ".join(f"{p.source}: {p.message}" for p in prepared if isinstance(p, EnrolResult))
    raise QualityError(f"no usable face in any image ({details}); nothing was stored",
                       code=reasons[0] if len(reasons) == 1 else "low_quality")


def _image_bytes(image: ImageInput, pixels: np.ndarray) -> tuple[bytes, str]:
    """The original file bytes when we have them (no re-compression), else a PNG of the pixels."""
    if isinstance(image, str | Path):
        media_type = mimetypes.guess_type(str(image))[0] or "application/octet-stream"
        return Path(image).read_bytes(), media_type
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise SightlineError("could not encode the enrolment image", code="bad_image")
    return encoded.tobytes(), "image/png"

