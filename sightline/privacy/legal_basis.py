"""The lawful bases for keeping personal data (subjects, plate lists) and the longest retention allowed."""

from __future__ import annotations

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
