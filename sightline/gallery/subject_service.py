"""Subjects: create (with a legal basis), resolve a reference, list, search, show, own threshold."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from sightline.errors import NotFoundError, SightlineError
from sightline.gallery.context import GalleryContext
from sightline.gallery.records import subject_dict, template_dict, utc
from sightline.gallery.search import SearchIndex
from sightline.gallery.subjects import SubjectCreate, make_subject
from sightline.gallery.thresholds import check_subject_threshold
from sightline.store import changes_repo, subjects_repo, templates_repo
from sightline.store.tables import Subject


class SubjectService:
    """Subject records and their legal basis (no biometric data passes through here)."""

    def __init__(self, ctx: GalleryContext, search: SearchIndex) -> None:
        self.ctx = ctx
        self.search = search

    def validate(self, subject: SubjectCreate | None, actor: str, fields: dict[str, Any]) -> SubjectCreate:
        """The subject's record, validated (raises ``LegalBasisError`` naming every problem)."""
        if subject is not None:
            return subject
        fields.setdefault("enrolled_by", actor)
        return make_subject(**fields)

    def insert(self, session: Any, subject: SubjectCreate, actor: str) -> Subject:
        """Add the subject row and its audit row inside ``session``'s transaction."""
        row = subjects_repo.add_subject(session, Subject(
            id=os.urandom(16).hex(), name=subject.name, legal_basis=subject.legal_basis.value,
            purpose=subject.purpose, evidence=subject.evidence, enrolled_by=subject.enrolled_by,
            created_at=datetime.now(UTC), retain_until=subject.retain_until))
        self.ctx.audit.append(session, actor=actor, action="subject_create", subject_id=row.id,
                              details={"legal_basis": row.legal_basis, "retain_until": row.retain_until.isoformat(),
                                       "evidence_recorded": bool(row.evidence)})
        return row

    def create(self, subject: SubjectCreate | None = None, *, actor: str | None = None,
               **fields: Any) -> dict[str, object]:
        """Record a subject and their legal basis; refuses (LegalBasisError) without basis, purpose, retention."""
        actor = actor or self.ctx.actor
        subject = self.validate(subject, actor, fields)
        with self.ctx.sessions.begin() as session:
            row = self.insert(session, subject, actor)
        self.search.set_subject(row.id, row.name)
        return subject_dict(row, 0, 0)

    def resolve(self, ref: str) -> str:
        """Subject id for ``ref``: an id, a unique id prefix (4+ characters) or a unique exact name."""
        ref = (ref or "").strip()
        with self.ctx.sessions() as session:
            if subjects_repo.get_subject(session, ref) is not None:
                return ref
            matches = subjects_repo.ids_matching(session, ref)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise SightlineError(f"{ref!r} matches {len(matches)} subjects; use the subject id", code="ambiguous")
        raise NotFoundError(f"no subject {ref!r} (erased, or never enrolled)")

    def list(self) -> list[dict[str, object]]:
        """Every subject with template and image counts (no biometric data)."""
        with self.ctx.sessions() as session:
            templates = subjects_repo.template_counts(session)
            images = subjects_repo.image_counts(session)
            return [subject_dict(s, templates.get(s.id, 0), images.get(s.id, 0))
                    for s in subjects_repo.all_subjects(session)]

    def search_page(self, q: str | None, limit: int, offset: int) -> tuple[int, list[dict[str, object]]]:
        """(total, one page) of subjects whose name contains ``q`` or whose id starts with it; newest first."""
        with self.ctx.sessions() as session:
            total, rows = subjects_repo.search_subjects(session, q, limit, offset)
            ids = [s.id for s in rows]
            templates = subjects_repo.template_counts(session, ids)
            images = subjects_repo.image_counts(session, ids)
            return total, [subject_dict(s, templates.get(s.id, 0), images.get(s.id, 0)) for s in rows]

    def show(self, subject_id: str) -> dict[str, object]:
        """One subject's record and template metadata (no embeddings)."""
        with self.ctx.sessions() as session:
            subject = self.ctx.require_subject(session, subject_id)
            templates = templates_repo.subject_templates(session, subject.id)
            images = templates_repo.subject_images(session, subject.id)
            negatives = templates_repo.negatives_of(session, subject.id)
            out = subject_dict(subject, len(templates), len(images))
            out["negatives"] = len(negatives)
            out["template_list"] = [template_dict(t) for t in templates]
            out["image_list"] = [{"id": i.id, "media_type": i.media_type, "created_at": utc(i.created_at).isoformat()}
                                 for i in images]
            return out

    def set_threshold(self, subject_id: str, value: float | None, *, actor: str | None = None) -> dict[str, object]:
        """Give a subject their own, stricter threshold (None: back to the calibrated one); audited."""
        actor = actor or self.ctx.actor
        value = check_subject_threshold(value, self.ctx.calibrated_threshold)
        with self.ctx.sessions.begin() as session:
            self.ctx.require_subject(session, subject_id)
            previous = subjects_repo.set_threshold(session, subject_id, value)
            changes_repo.record(session, "subject", subject_id)  # other replicas reload the threshold
            self.ctx.audit.append(session, actor=actor, action="subject_threshold", subject_id=subject_id,
                                  details={"threshold": value, "previous": previous})
        self.search.set_threshold(subject_id, value)
        return {"subject_id": subject_id, "threshold": value, "previous": previous,
                "calibrated": self.ctx.calibrated_threshold}

    def stats(self) -> dict[str, object]:
        """Counts for ``sightline gallery list`` and health checks."""
        with self.ctx.sessions() as session:
            subjects = subjects_repo.count_subjects(session)
            templates = templates_repo.count_templates(session)
        return {"subjects": subjects, "templates": templates, "database": self.ctx.db.url.render_as_string(True),
                "key_id": self.ctx.keys.active_id, "key_source": "env" if self.ctx.keys.from_env else "file"}
