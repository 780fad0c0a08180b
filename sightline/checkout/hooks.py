"""Checkout sessions in the subject's rights and in retention: erasure deletes the sessions that claimed
or named the subject, export lists them, and the retention sweep deletes every session older than
``SIGHTLINE_CHECKOUT_RETENTION_H`` (24 hours by default; lock-outs only need the last few minutes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sightline.checkout.policy import CheckoutPolicy
from sightline.privacy.erasure import register_erasure_hook
from sightline.privacy.export_hooks import register_export_hook
from sightline.privacy.retention import register_purge
from sightline.store import checkout_repo

NAME = "checkout"


def erase_subject(session: Session, subject_id: str) -> dict[str, int]:
    """Delete the subject's checkout sessions (inside the erasure's transaction)."""
    return {"checkout_sessions": checkout_repo.delete_subject_sessions(session, subject_id)}


def export_subject(session: Session, subject_id: str) -> list[dict[str, Any]]:
    """The subject's checkout sessions as JSON records (no nonce, no face data)."""
    return [row.to_dict() for row in checkout_repo.sessions_of_subject(session, subject_id)]


def purge_sessions(session: Session, now: datetime) -> int:
    """Delete sessions older than the checkout retention."""
    return checkout_repo.delete_before(session, now - timedelta(hours=CheckoutPolicy().retention_hours))


def install_checkout_hooks() -> None:
    """Make erasure, export and the retention sweep cover checkout sessions (idempotent)."""
    register_erasure_hook(NAME, erase_subject)
    register_export_hook(NAME, export_subject)
    register_purge(NAME, purge_sessions)
