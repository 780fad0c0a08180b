"""The Gallery facade: enrolled subjects, their encrypted templates, 1:N identification and 1:1 verification.

One object for callers (CLI, API, video) over services with one job each:
:class:`SubjectService` (records and legal basis), :class:`EnrolmentService`
(photos to encrypted templates), :class:`MatchingService` (identify, verify,
camera matches), :class:`RightsService` (erasure, export, key rotation) and
:class:`CorrectionService` ("not this person"). They share a
:class:`GalleryContext` (store, keys, audit log, face engine) and a
:class:`SearchIndex` (the in-memory FAISS index, built lazily from the store).
Every change is audited in the same transaction as the change it records.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from sightline.config import default_data_dir
from sightline.engine import FaceEngine
from sightline.gallery.context import GalleryContext
from sightline.gallery.corrections import CorrectionService
from sightline.gallery.enrol import EnrolResult, QualityGate
from sightline.gallery.enrolment import EnrolmentService
from sightline.gallery.index import VectorIndex
from sightline.gallery.matching import MatchingService
from sightline.gallery.records import (
    UNKNOWN,
    Candidate,
    ErasureReport,
    Identification,
    RotationReport,
    VerifyOutcome,
    default_actor,
)
from sightline.gallery.reembed import ReembedReport, ReembedService
from sightline.gallery.rights import RightsService
from sightline.gallery.search import SearchIndex
from sightline.gallery.subject_service import SubjectService
from sightline.gallery.subjects import SubjectCreate
from sightline.privacy.crypto import KeyRing
from sightline.store import templates_repo
from sightline.store.db import open_engine, session_factory
from sightline.vision.image_io import ImageInput

__all__ = ["UNKNOWN", "Candidate", "ErasureReport", "Gallery", "Identification", "RotationReport", "VerifyOutcome",
           "default_actor"]


class Gallery:
    """Enrolled subjects and everything done with them. Use :meth:`open` to get one."""

    def __init__(self, home: Path, db: Engine, keys: KeyRing, *, engine: FaceEngine | None = None,
                 index_kind: str = "exact", index_params: dict[str, Any] | None = None,
                 actor: str | None = None, gate: QualityGate | None = None,
                 index_factory: Callable[[int], Any] | None = None) -> None:
        self.ctx = GalleryContext(home, db, keys, engine=engine, actor=actor or default_actor())
        self.search = SearchIndex(self.ctx, index_kind, index_params, index_factory)
        self.subjects = SubjectService(self.ctx, self.search)
        self.enrolment = EnrolmentService(self.ctx, self.search, self.subjects, gate)
        self.matching = MatchingService(self.ctx, self.search)
        self.rights = RightsService(self.ctx, self.search)
        self.corrections = CorrectionService(self.ctx, self.search)
        self.reembedding = ReembedService(self.ctx, self.enrolment)
        self.home, self.db, self.sessions, self.audit, self.keys = home, db, self.ctx.sessions, self.ctx.audit, keys

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, home: str | Path | None = None, db_url: str | None = None, engine: FaceEngine | None = None,
             *, index_kind: str = "exact", index_params: dict[str, Any] | None = None, actor: str | None = None,
             create_key: bool = True, index_factory: Callable[[int], Any] | None = None) -> Gallery:
        """Open (creating and migrating if needed) the gallery under ``home`` or at ``db_url``.

        A new key file is made only when none exists and the store holds no encrypted data yet;
        otherwise a missing key is an error, never silently replaced.
        """
        home_path = Path(home).expanduser() if home is not None else default_data_dir()
        if not home_path.exists():
            home_path.mkdir(parents=True, mode=0o700)  # database and keys: owner only
        db = open_engine(db_url, home_path)
        if db.dialect.name == "sqlite" and db.url.database:
            os.chmod(db.url.database, 0o600)  # WAL and shared-memory files inherit this mode
        with session_factory(db)() as session:
            has_data = templates_repo.has_encrypted_data(session)
        keys = KeyRing.load(home_path, create=create_key and not has_data)
        return cls(home_path, db, keys, engine=engine, index_kind=index_kind, index_params=index_params,
                   actor=actor, index_factory=index_factory)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared state ------------------------------------------------------------------------
    @property
    def actor(self) -> str:
        """Who the audit log names when a call gives no actor."""
        return self.ctx.actor

    @property
    def faces(self) -> FaceEngine:
        """The face engine (created on first use with the default backend)."""
        return self.ctx.faces

    @property
    def threshold(self) -> float:
        """The calibrated threshold of the face engine."""
        return self.ctx.calibrated_threshold

    @property
    def gate(self) -> QualityGate:
        return self.enrolment.gate

    @property
    def index_kind(self) -> str:
        return self.search.index_kind

    @property
    def index(self) -> VectorIndex | None:
        """The in-memory index (built from the store on first use; None while nothing is enrolled)."""
        return self.search.index

    def refresh(self) -> tuple[int, int]:
        """Bring the index in line with the store (after another process changed it): (added, removed)."""
        return self.search.refresh()

    def _decrypt_template(self, template: Any) -> np.ndarray:
        return self.ctx.decrypt_template(template)

    # -- subjects ----------------------------------------------------------------------------
    def create_subject(self, subject: SubjectCreate | None = None, *, actor: str | None = None,
                       **fields: Any) -> dict[str, object]:
        """Record a subject and their legal basis; refuses (LegalBasisError) without basis, purpose, retention."""
        return self.subjects.create(subject, actor=actor, **fields)

    def resolve(self, ref: str) -> str:
        """Subject id for ``ref``: an id, a unique id prefix (4+ characters) or a unique exact name."""
        return self.subjects.resolve(ref)

    def list_subjects(self) -> list[dict[str, object]]:
        """Every subject with template and image counts (no biometric data)."""
        return self.subjects.list()

    def show(self, subject_id: str) -> dict[str, object]:
        """One subject's record and template metadata (no embeddings)."""
        return self.subjects.show(subject_id)

    def stats(self) -> dict[str, object]:
        """Counts for ``sightline gallery list`` and health checks."""
        return self.subjects.stats()

    # -- enrolment ---------------------------------------------------------------------------
    def enroll(self, subject_id: str, images: Iterable[ImageInput], *, store_images: bool = False,
               actor: str | None = None) -> list[EnrolResult]:
        """Enrol each image (each committed on its own); rejected images are reported, not raised."""
        return self.enrolment.enroll(subject_id, images, store_images=store_images, actor=actor)

    def enroll_image(self, subject_id: str, image: ImageInput, *, store_image: bool = False,
                     actor: str | None = None, source: str | None = None) -> EnrolResult:
        """Quality-check one image, encrypt and store its template, audit it, then add it to the index."""
        return self.enrolment.enroll_image(subject_id, image, store_image=store_image, actor=actor, source=source)

    def reembed(self, *, actor: str | None = None, progress: Any = None) -> ReembedReport:
        """Re-enrol every subject from their kept photos with the current backend (after switching embedders)."""
        return self.reembedding.run(actor=actor, progress=progress)

    # -- recognition -------------------------------------------------------------------------
    def identify(self, image: ImageInput, k: int = 3, *, threshold: float | None = None,
                 attributes: Sequence[str] | None = None, actor: str | None = None, allow_lower: bool = False,
                 explain: bool = False) -> list[Identification]:
        """Every face in ``image`` with its top-``k`` subjects; a face that matches nobody is ``unknown``.

        ``threshold`` may raise the calibrated one; lowering it needs ``allow_lower`` (and has a floor).
        """
        return self.matching.identify(image, k, threshold=threshold, attributes=attributes, actor=actor,
                                      allow_lower=allow_lower, explain=explain)

    def match_embedding(self, vector: np.ndarray, *, camera: str | None = None, threshold: float | None = None,
                        actor: str | None = None) -> Candidate | None:
        """1:N for one already-computed embedding (video pipelines): the best matching subject, or None."""
        return self.matching.match_embedding(vector, camera=camera, threshold=threshold, actor=actor)

    def verify(self, image: ImageInput, subject_id: str, *, threshold: float | None = None,
               actor: str | None = None, allow_lower: bool = False) -> VerifyOutcome:
        """1:1: is the main face of ``image`` this subject? (best similarity over their templates)."""
        return self.matching.verify(image, subject_id, threshold=threshold, actor=actor, allow_lower=allow_lower)

    # -- data-subject rights and keys --------------------------------------------------------
    def erase(self, subject_id: str, *, actor: str | None = None, reason: str = "request") -> ErasureReport:
        """Delete the subject, their templates, images and negatives (overwritten on disk), and index entries."""
        return self.rights.erase(subject_id, actor=actor, reason=reason)

    def export(self, subject_id: str, out_dir: str | Path, *, include_templates: bool = False,
               actor: str | None = None) -> Path:
        """Write everything held about a subject (subject-access request) into a new folder; returns it."""
        return self.rights.export(subject_id, out_dir, include_templates=include_templates, actor=actor)

    def rotate_key(self, *, new_key: bytes | None = None, actor: str | None = None) -> RotationReport:
        """Re-encrypt every template, image and negative under a new key, then destroy the old key files."""
        return self.rights.rotate_key(new_key=new_key, actor=actor)
