"""The stored enrolment photo behind one template (for the subjects page's thumbnails)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sightline.store.tables import EnrolmentImage, Template


def template_photo(session: Session, subject_id: str, template_id: int) -> tuple[bool, EnrolmentImage | None]:
    """(whether the subject has this template, its stored photo or None)."""
    template = session.get(Template, template_id)
    if template is None or template.subject_id != subject_id:
        return False, None
    return True, session.get(EnrolmentImage, template.image_id) if template.image_id else None
