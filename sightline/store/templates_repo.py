"""SQL about encrypted templates, enrolment images and negative examples (ciphertext rows only).

Encryption happens in the gallery; these functions only read and write rows
inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sightline.store.tables import EnrolmentImage, NegativeExample, Subject, Template

_PLAIN_FIELDS = (Template.id, Template.subject_id, Template.key_id, Template.nonce, Template.ciphertext, Template.dim)


def has_encrypted_data(session: Session) -> bool:
    """True when any template or stored image exists (then a missing key is an error, not a fresh start)."""
    return bool(session.scalar(select(func.count()).select_from(Template))
                or session.scalar(select(func.count()).select_from(EnrolmentImage)))


def count_templates(session: Session, *, other_than_embedder: str | None = None) -> int:
    """Number of templates (only those made by another embedder when ``other_than_embedder`` is set)."""
    query = select(func.count()).select_from(Template)
    if other_than_embedder is not None:
        query = query.where(Template.embedder != other_than_embedder)
    return int(session.scalar(query) or 0)


def iter_template_rows(session: Session, embedder: str) -> Iterator[Any]:
    """Plain rows (id, subject_id, key_id, nonce, ciphertext, dim) of ``embedder``'s templates, by id."""
    yield from session.execute(select(*_PLAIN_FIELDS).where(Template.embedder == embedder).order_by(Template.id)
                               .execution_options(yield_per=5000))


def template_ids(session: Session, embedder: str) -> set[int]:
    """Ids of every template made by ``embedder``."""
    return set(session.scalars(select(Template.id).where(Template.embedder == embedder)))


def templates_by_id(session: Session, ids: Sequence[int]) -> Sequence[Template]:
    """The template rows with these ids."""
    return session.scalars(select(Template).where(Template.id.in_(ids))).all() if ids else []


def subject_templates(session: Session, subject_id: str, embedder: str | None = None) -> Sequence[Template]:
    """A subject's templates (only ``embedder``'s when given), by id."""
    query = select(Template).where(Template.subject_id == subject_id).order_by(Template.id)
    if embedder is not None:
        query = query.where(Template.embedder == embedder)
    return session.scalars(query).all()


def subject_template_ids(session: Session, subject_id: str) -> list[int]:
    """Ids of a subject's templates."""
    return list(session.scalars(select(Template.id).where(Template.subject_id == subject_id)))


def subject_images(session: Session, subject_id: str) -> Sequence[EnrolmentImage]:
    """A subject's stored enrolment images, by id."""
    return session.scalars(select(EnrolmentImage).where(EnrolmentImage.subject_id == subject_id)
                           .order_by(EnrolmentImage.id)).all()


def add_row(session: Session, row: Template | EnrolmentImage | NegativeExample) -> Any:
    """Insert a row and flush it so its id is known (the id goes into the ciphertext's associated data)."""
    session.add(row)
    session.flush()
    return row


def get_template(session: Session, template_id: int) -> Template | None:
    """The template with this id, or None."""
    return session.get(Template, template_id)


def delete_template(session: Session, template_id: int) -> int | None:
    """Delete one template and its stored image (if any); returns the image id that went with it."""
    template = session.get(Template, template_id)
    image_id = template.image_id if template is not None else None
    session.execute(delete(Template).where(Template.id == template_id))
    if image_id is not None:
        session.execute(delete(EnrolmentImage).where(EnrolmentImage.id == image_id))
    return image_id


def delete_subject_data(session: Session, subject_id: str) -> tuple[int, int]:
    """Delete a subject's images, templates and negatives; returns (images, negatives) deleted."""
    images = session.execute(delete(EnrolmentImage).where(EnrolmentImage.subject_id == subject_id)).rowcount
    session.execute(delete(Template).where(Template.subject_id == subject_id))
    negatives = session.execute(delete(NegativeExample).where(NegativeExample.subject_id == subject_id)).rowcount
    return int(images or 0), int(negatives or 0)


def iter_all(session: Session, table: type[Template] | type[EnrolmentImage] | type[NegativeExample],
             batch: int = 1000) -> Iterable[Any]:
    """Every row of an encrypted table (ORM objects, for re-encryption under a new key)."""
    return session.scalars(select(table).execution_options(yield_per=batch))


def negatives_of(session: Session, subject_id: str, embedder: str | None = None) -> Sequence[NegativeExample]:
    """A subject's negative examples (only ``embedder``'s when given), by id."""
    query = select(NegativeExample).where(NegativeExample.subject_id == subject_id).order_by(NegativeExample.id)
    if embedder is not None:
        query = query.where(NegativeExample.embedder == embedder)
    return session.scalars(query).all()


def all_negatives(session: Session, embedder: str) -> Sequence[NegativeExample]:
    """Every negative example made by ``embedder``."""
    return session.scalars(select(NegativeExample).where(NegativeExample.embedder == embedder)
                           .order_by(NegativeExample.id)).all()


def get_image(session: Session, image_id: int) -> EnrolmentImage | None:
    """One kept enrolment photo (ciphertext), or None."""
    return session.get(EnrolmentImage, image_id)


def reembed_plan(session: Session, embedder: str) -> list[dict[str, Any]]:
    """Subjects with templates of embedders other than ``embedder``: their name, template counts, and the kept
    photos behind those templates that have no ``embedder`` template yet (what re-enrolment must embed)."""
    rows = session.execute(select(Template.subject_id, Template.embedder, Template.image_id)).all()
    by_subject: dict[str, dict[str, Any]] = {}
    for subject_id, made_by, image_id in rows:
        entry = by_subject.setdefault(subject_id, {"current": 0, "other": 0, "done": set(), "todo": set()})
        if made_by == embedder:
            entry["current"] += 1
            if image_id is not None:
                entry["done"].add(image_id)
        else:
            entry["other"] += 1
            if image_id is not None:
                entry["todo"].add(image_id)
    wanted = {s: e for s, e in by_subject.items() if e["other"]}
    names = dict(session.execute(select(Subject.id, Subject.name).where(Subject.id.in_(list(wanted)))).all()) \
        if wanted else {}
    return [{"subject_id": s, "name": names.get(s, ""), "current_templates": e["current"],
             "other_templates": e["other"], "image_ids": sorted(e["todo"] - e["done"])}
            for s, e in sorted(wanted.items())]
