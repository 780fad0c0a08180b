"""Subjects and the legal basis on which they are enrolled.

Nobody is enrolled without a lawful basis (GDPR art. 6), a stated purpose
and a date after which their data is erased; consent needs a reference to
the evidence of it (art. 7(1): the controller must be able to show it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sightline.errors import LegalBasisError
from sightline.gallery.names import bad_character, check_name
from sightline.privacy.legal_basis import MAX_RETENTION_DAYS, LegalBasis, check_consent_evidence, check_retention

__all__ = ["MAX_RETENTION_DAYS", "LegalBasis", "SubjectCreate", "make_subject"]


class SubjectCreate(BaseModel):
    """What must be known about a person before any biometric of theirs is stored."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    legal_basis: LegalBasis
    purpose: str = Field(min_length=3, max_length=2000)
    evidence: str | None = Field(default=None, max_length=500)
    enrolled_by: str = Field(min_length=1, max_length=200)
    retain_until: datetime

    @field_validator("name", "evidence", "enrolled_by", "purpose")
    @classmethod
    def _printable(cls, value: str | None, info: object) -> str | None:
        field = getattr(info, "field_name", "text")
        problem = bad_character(value, allow_newlines=field == "purpose") if value else None
        if problem:
            raise ValueError(f"contains {problem}")
        return value

    @field_validator("retain_until", mode="before")
    @classmethod
    def _as_datetime(cls, value: object) -> object:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time(23, 59, 59), tzinfo=UTC)
        return value

    @field_validator("retain_until")
    @classmethod
    def _future(cls, value: datetime) -> datetime:
        return check_retention(value)

    @model_validator(mode="after")
    def _consent_needs_evidence(self) -> SubjectCreate:
        check_consent_evidence(self.legal_basis, self.evidence)
        return self


def make_subject(*, name: str | None = None, legal_basis: str | LegalBasis | None = None, purpose: str | None = None,
                 evidence: str | None = None, enrolled_by: str | None = None,
                 retain_until: datetime | date | None = None, retention_days: int | None = None) -> SubjectCreate:
    """Validate enrolment metadata; raises :class:`LegalBasisError` naming every missing or bad field
    (:class:`InvalidNameError` for a name with control or bidirectional-override characters)."""
    if isinstance(name, str):
        check_name(name, "the subject's name")
    if retain_until is None and retention_days is not None:
        if retention_days < 1:
            raise LegalBasisError("retention days must be at least 1")
        retain_until = datetime.now(UTC) + timedelta(days=retention_days)
    fields = {"name": name, "legal_basis": legal_basis, "purpose": purpose, "evidence": evidence,
              "enrolled_by": enrolled_by, "retain_until": retain_until}
    try:
        return SubjectCreate.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise LegalBasisError("enrolment refused: " + "; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())) or "subject"
    if error.get("type") == "missing":
        hint = {"legal_basis": f"legal basis is required ({', '.join(b.value for b in LegalBasis)})",
                "purpose": "purpose is required",
                "retain_until": "a retention date (or retention days) is required",
                "enrolled_by": "enrolled-by (who is enrolling) is required",
                "name": "a display name is required"}
        return hint.get(field, f"{field} is required")
    if error.get("type") == "enum":
        return f"legal basis must be one of {', '.join(b.value for b in LegalBasis)}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{field}: {message}" if field != "subject" else message
