"""Who may pay with their face, and their templates, through the gallery facade.

A payer is an enrolled subject whose legal basis covers paying (consent, with its evidence, or a
contract) and whose retention date has not passed. Subjects enrolled on another basis (an employer's
legitimate interest for a door, say) are never matched at a till.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from sightline.checkout.errors import CheckoutError
from sightline.gallery.gallery import Gallery
from sightline.store import templates_repo

PAYING_BASES = ("consent", "contract")


def is_payer(subject: dict[str, object], now: datetime | None = None) -> bool:
    """Whether a subject record (``Gallery.show``/``list_subjects``) may pay."""
    now = now or datetime.now(UTC)
    retain = datetime.fromisoformat(str(subject["retain_until"]))
    return subject.get("legal_basis") in PAYING_BASES and retain > now and int(subject.get("templates") or 0) > 0


def payers(gallery: Gallery) -> list[dict[str, object]]:
    """Every subject who may pay."""
    now = datetime.now(UTC)
    return [s for s in gallery.list_subjects() if is_payer(s, now)]


def require_payer(gallery: Gallery, ref: str) -> dict[str, object]:
    """The claimed subject's record, if they may pay (a clear refusal otherwise)."""
    subject = gallery.show(gallery.resolve(ref))
    if not is_payer(subject):
        raise CheckoutError("this subject is not enrolled for paying (needs consent or a contract as legal basis, "
                            "a retention date in the future, and a face template)", code="not_a_payer", status=403)
    return subject


def templates_of(gallery: Gallery, subject_id: str) -> np.ndarray:
    """The subject's templates made by the gallery's embedder, decrypted (rows of unit vectors)."""
    embedder = gallery.faces.spec.embedder
    with gallery.sessions() as session:
        rows = templates_repo.subject_templates(session, subject_id, embedder)
        vectors = [gallery.ctx.decrypt_template(t) for t in rows]
    if not vectors:
        raise CheckoutError(f"this subject has no {embedder} templates: re-enrol them", code="not_a_payer",
                            status=403)
    return np.vstack(vectors).astype(np.float32)
