"""What the gallery hands back: candidates, identifications, verification, erasure and rotation reports.

Also the JSON forms of subject and template rows (never biometric data) and
who the audit log names when no actor is given.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sightline.store.tables import Subject, Template
from sightline.vision.faces.types import Face

UNKNOWN = "unknown"


def default_actor() -> str:
    """``$SIGHTLINE_ACTOR`` or the login name: who the audit log says did it."""
    try:
        return os.environ.get("SIGHTLINE_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown-user"


def utc(value: datetime) -> datetime:
    """``value`` with UTC attached when the database returned it naive (SQLite)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def negative_aad(negative_id: int, subject_id: str) -> bytes:
    """Associated data binding a negative example's ciphertext to its row and subject."""
    return f"sightline:negative:{negative_id}:{subject_id}".encode()


@dataclass
class Candidate:
    """A subject whose templates resemble a face, and the best similarity.

    ``accepted`` says whether this subject passed the match decision (threshold,
    the subject's own threshold, and the margin over its negative examples).
    """

    subject_id: str
    name: str
    score: float
    accepted: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"subject_id": self.subject_id, "name": self.name, "score": round(self.score, 4)}


@dataclass
class Identification:
    """One face found in a probe image: where, who it might be, and the decision."""

    face: Face
    candidates: list[Candidate]
    threshold: float

    @property
    def match(self) -> Candidate | None:
        """The best candidate that passed the decision, else None (the face is unknown)."""
        return next((c for c in self.candidates if c.accepted), None)

    @property
    def decision(self) -> str:
        match = self.match
        return match.subject_id if match else UNKNOWN

    def to_dict(self, *, explain: bool = False) -> dict[str, object]:
        """JSON form. Only subjects that matched are named; ``explain`` (an admin's tuning aid) adds
        every near-miss candidate with its score."""
        match = self.match
        shown = self.candidates if explain else [c for c in self.candidates if c.accepted]
        return {"box": [round(float(v), 1) for v in self.face.box], "decision": self.decision,
                "name": match.name if match else None, "score": round(match.score, 4) if match else None,
                "threshold": self.threshold, "candidates": [c.to_dict() for c in shown],
                "quality": self.face.quality.to_dict() if self.face.quality else None}


@dataclass
class VerifyOutcome:
    """1:1 comparison of a probe face with one subject's templates."""

    subject_id: str
    name: str
    score: float
    same_person: bool
    threshold: float
    templates: int
    face: Face | None = None

    def to_dict(self) -> dict[str, object]:
        return {"subject_id": self.subject_id, "name": self.name, "score": round(self.score, 4),
                "same_person": self.same_person, "threshold": self.threshold, "templates": self.templates,
                "box": [round(float(v), 1) for v in self.face.box] if self.face else None}


@dataclass
class ErasureReport:
    """What an erasure removed."""

    subject_id: str
    templates: int
    images: int
    index_entries: int
    reason: str
    negatives: int = 0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class RotationReport:
    """What a key rotation re-encrypted."""

    old_keys: list[str]
    new_key: str
    templates: int
    images: int
    negatives: int = 0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def subject_dict(subject: Subject, templates: int, images: int) -> dict[str, object]:
    """A subject's record as JSON (no biometric data)."""
    return {"id": subject.id, "name": subject.name, "legal_basis": subject.legal_basis, "purpose": subject.purpose,
            "evidence": subject.evidence, "enrolled_by": subject.enrolled_by,
            "created_at": utc(subject.created_at).isoformat(), "retain_until": utc(subject.retain_until).isoformat(),
            "threshold": subject.threshold, "templates": templates, "images": images}


def template_dict(template: Template) -> dict[str, object]:
    """A template's metadata as JSON (never the embedding)."""
    return {"id": template.id, "created_at": utc(template.created_at).isoformat(), "backend": template.backend,
            "embedder": template.embedder, "dim": template.dim, "quality": round(template.quality, 4),
            "source": template.source, "image_id": template.image_id, "key_id": template.key_id}
