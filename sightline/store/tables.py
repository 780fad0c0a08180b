"""ORM models: subjects (with their legal basis), encrypted templates and images, and the audit chain.

Templates and enrolment images are stored only as AES-256-GCM ciphertext; the
audit table holds who did what and the outcome, never biometric data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every Sightline table."""


class Subject(Base):
    """An enrolled person and the legal basis on which they are enrolled."""

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(String(500))
    enrolled_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)  # own, stricter match threshold

    templates: Mapped[list[Template]] = relationship(back_populates="subject", cascade="all, delete-orphan",
                                                     passive_deletes=True)
    images: Mapped[list[EnrolmentImage]] = relationship(back_populates="subject", cascade="all, delete-orphan",
                                                        passive_deletes=True)


class EnrolmentImage(Base):
    """An enrolment photo, kept only when asked for (``--store-images``), encrypted."""

    __tablename__ = "enrolment_images"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    media_type: Mapped[str] = mapped_column(String(50))
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    subject: Mapped[Subject] = relationship(back_populates="images")


class Template(Base):
    """One face embedding of a subject, AES-256-GCM encrypted (bound to its id and subject id)."""

    __tablename__ = "templates"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("enrolment_images.id", ondelete="SET NULL"))
    backend: Mapped[str] = mapped_column(String(50))
    embedder: Mapped[str] = mapped_column(String(50))
    dim: Mapped[int] = mapped_column(Integer)
    quality: Mapped[float] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(500))
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    subject: Mapped[Subject] = relationship(back_populates="templates")


class NegativeExample(Base):
    """A face wrongly matched to a subject ("not this person"), AES-256-GCM encrypted and bound to the subject."""

    __tablename__ = "negative_examples"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    embedder: Mapped[str] = mapped_column(String(50))
    dim: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One row of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(50))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
