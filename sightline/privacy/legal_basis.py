"""The lawful bases for keeping personal data (subjects, plate lists) and the longest retention allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

MAX_RETENTION_DAYS = 3650


class LegalBasis(StrEnum):
    """The six lawful bases of GDPR article 6(1)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTEREST = "vital_interest"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTEREST = "legitimate_interest"


def check_retention(value: datetime) -> datetime:
    """``value`` in UTC when it lies in the future and within :data:`MAX_RETENTION_DAYS`; else ValueError."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if value <= now:
        raise ValueError("the retention date must be in the future")
    if value > now + timedelta(days=MAX_RETENTION_DAYS):
        raise ValueError(f"the retention period may be at most {MAX_RETENTION_DAYS} days")
    return value.astimezone(UTC)


def check_consent_evidence(legal_basis: LegalBasis, evidence: str | None) -> None:
    """Consent must point at its evidence (GDPR art. 7(1)); ValueError when it does not."""
    if legal_basis is LegalBasis.CONSENT and not evidence:
        raise ValueError("consent needs an evidence reference (e.g. the id of the signed consent form)")
