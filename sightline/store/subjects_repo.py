"""SQL about subjects: insert, look up, search, count and delete (the gallery's only way to reach them).

Every function takes an open :class:`Session`; the caller owns the transaction,
so a change and the audit row that records it commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from sightline.store.tables import AuditEntry, EnrolmentImage, Subject, Template


def add_subject(session: Session, subject: Subject) -> Subject:
    """Insert ``subject`` (flushed, so later statements in the transaction see it)."""
    session.add(subject)
    session.flush()
    return subject


def get_subject(session: Session, subject_id: str) -> Subject | None:
    """The subject with this id, or None."""
    return session.get(Subject, subject_id)


def ids_matching(session: Session, ref: str) -> list[str]:
    """Ids whose id starts with ``ref`` (4+ characters), else ids whose name is exactly ``ref``."""
    matches: list[str] = []
    if len(ref) >= 4:
        matches = list(session.scalars(select(Subject.id).where(Subject.id.startswith(ref, autoescape=True))))
    if not matches:
        matches = list(session.scalars(select(Subject.id).where(Subject.name == ref)))
    return matches


def names_by_id(session: Session) -> dict[str, str]:
    """{subject id: display name} of every subject (for labelling search results)."""
    return dict(session.execute(select(Subject.id, Subject.name)).tuples().all())


def thresholds_by_id(session: Session) -> dict[str, float]:
    """{subject id: own threshold} of the subjects that carry one."""
    rows = session.execute(select(Subject.id, Subject.threshold).where(Subject.threshold.is_not(None)))
    return {subject_id: float(value) for subject_id, value in rows.tuples().all()}


def all_subjects(session: Session) -> Sequence[Subject]:
    """Every subject, oldest first."""
    return session.scalars(select(Subject).order_by(Subject.created_at, Subject.id)).all()


def search_subjects(session: Session, q: str | None, limit: int, offset: int) -> tuple[int, Sequence[Subject]]:
    """(total, one page) of subjects whose name contains ``q`` or whose id starts with it; newest first."""
    query = select(Subject)
    if q:
        pattern = q.strip()
        query = query.where(or_(Subject.name.icontains(pattern, autoescape=True),
                                Subject.id.startswith(pattern.lower(), autoescape=True)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Subject.created_at.desc(), Subject.id).limit(limit).offset(offset)).all()
    return int(total), rows


def template_counts(session: Session, subject_ids: Sequence[str] | None = None) -> dict[str, int]:
    """{subject id: number of templates} (only the given subjects when ``subject_ids`` is set)."""
    query = select(Template.subject_id, func.count()).group_by(Template.subject_id)
    if subject_ids is not None:
        query = query.where(Template.subject_id.in_(subject_ids))
    return dict(session.execute(query).tuples().all())


def image_counts(session: Session, subject_ids: Sequence[str] | None = None) -> dict[str, int]:
    """{subject id: number of stored enrolment images}."""
    query = select(EnrolmentImage.subject_id, func.count()).group_by(EnrolmentImage.subject_id)
    if subject_ids is not None:
        query = query.where(EnrolmentImage.subject_id.in_(subject_ids))
    return dict(session.execute(query).tuples().all())


def count_subjects(session: Session) -> int:
    """How many subjects are enrolled."""
    return int(session.scalar(select(func.count()).select_from(Subject)) or 0)


def set_threshold(session: Session, subject_id: str, value: float | None) -> float | None:
    """Set (or clear, with None) a subject's own threshold; returns the previous value."""
    subject = session.get(Subject, subject_id)
    previous = subject.threshold if subject is not None else None
    if subject is not None:
        subject.threshold = value
        session.flush()
    return previous


def delete_subject(session: Session, subject_id: str) -> None:
    """Delete the subject row (templates, images and negatives must be deleted first or cascade)."""
    session.execute(delete(Subject).where(Subject.id == subject_id))


def expired_before(session: Session, now: datetime) -> list[str]:
    """Ids of subjects whose retention date is before ``now``."""
    return list(session.scalars(select(Subject.id).where(Subject.retain_until < now).order_by(Subject.id)))


def audit_rows_about(session: Session, subject_id: str) -> Sequence[AuditEntry]:
    """Audit rows naming the subject (as subject or inside the details), oldest first: for exports."""
    return session.scalars(select(AuditEntry).where(or_(AuditEntry.subject_id == subject_id,
                                                        AuditEntry.details.contains(subject_id)))
                           .order_by(AuditEntry.seq)).all()
