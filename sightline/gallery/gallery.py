"""The Gallery: enrolled subjects, their encrypted templates, 1:N identification and 1:1 verification.

Templates live encrypted in the store; at open (lazily, on first use) they are
decrypted into an in-memory :class:`VectorIndex` that enrol and erase keep in
step. Every enrol, verify, identify, export, erasure and key rotation is
written to the audit chain in the same transaction as the change it records.
"""

from __future__ import annotations

import getpass
import json
import mimetypes
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.orm import Session

from sightline.config import default_data_dir
from sightline.engine import FaceEngine
from sightline.errors import KeyMaterialError, NotFoundError, QualityError, SightlineError
from sightline.gallery.enrol import EnrolResult, QualityGate
from sightline.gallery.index import VectorIndex
from sightline.gallery.subjects import SubjectCreate, make_subject
from sightline.privacy.audit import AuditLog, entry_to_dict
from sightline.privacy.crypto import KeyRing, image_aad, template_aad
from sightline.privacy.erasure import run_erasure_hooks
from sightline.privacy.policy import check_attributes
from sightline.store.db import open_engine, session_factory, sqlite_checkpoint
from sightline.store.tables import AuditEntry, EnrolmentImage, Subject, Template
from sightline.vision.faces.types import Face
from sightline.vision.image_io import ImageInput, load_image

UNKNOWN = "unknown"
TEMPLATES_PER_SUBJECT_SEARCHED = 8  # templates fetched per requested candidate, so k subjects survive merging


def default_actor() -> str:
    """``$SIGHTLINE_ACTOR`` or the login name: who the audit log says did it."""
    try:
        return os.environ.get("SIGHTLINE_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown-user"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Candidate:
    """A subject whose templates resemble a face, and the best similarity."""

    subject_id: str
    name: str
    score: float

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
        """The best candidate if it reaches the threshold, else None (the face is unknown)."""
        best = self.candidates[0] if self.candidates else None
        return best if best is not None and best.score >= self.threshold else None

    @property
    def decision(self) -> str:
        match = self.match
        return match.subject_id if match else UNKNOWN

    def to_dict(self) -> dict[str, object]:
        match = self.match
        return {"box": [round(float(v), 1) for v in self.face.box], "decision": self.decision,
                "name": match.name if match else None, "score": round(match.score, 4) if match else None,
                "threshold": self.threshold, "candidates": [c.to_dict() for c in self.candidates],
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

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class RotationReport:
    """What a key rotation re-encrypted."""

    old_keys: list[str]
    new_key: str
    templates: int
    images: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class _IndexState:
    index: VectorIndex | None
    subject_of: dict[int, str] = field(default_factory=dict)
    stale: int = 0  # templates made by another embedder (not searchable with this engine)


class Gallery:
    """Enrolled subjects and everything done with them. Use :meth:`open` to get one."""

    def __init__(self, home: Path, db: Engine, keys: KeyRing, *, engine: FaceEngine | None = None,
                 index_kind: str = "exact", index_params: dict[str, Any] | None = None,
                 actor: str | None = None, gate: QualityGate | None = None) -> None:
        self.home = home
        self.db = db
        self.sessions = session_factory(db)
        self.audit = AuditLog(self.sessions)
        self.keys = keys
        self.index_kind = index_kind
        self.index_params = dict(index_params or {})
        self.actor = actor or default_actor()
        self.gate = gate or QualityGate()
        self._faces = engine
        self._state: _IndexState | None = None
        self._names: dict[str, str] = {}
        self._lock = threading.RLock()

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, home: str | Path | None = None, db_url: str | None = None, engine: FaceEngine | None = None,
             *, index_kind: str = "exact", index_params: dict[str, Any] | None = None, actor: str | None = None,
             create_key: bool = True) -> Gallery:
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
            has_data = bool(session.scalar(select(func.count()).select_from(Template))
                            or session.scalar(select(func.count()).select_from(EnrolmentImage)))
        keys = KeyRing.load(home_path, create=create_key and not has_data)
        return cls(home_path, db, keys, engine=engine, index_kind=index_kind, index_params=index_params,
                   actor=actor)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def faces(self) -> FaceEngine:
        """The face engine (created on first use with the default backend)."""
        if self._faces is None:
            self._faces = FaceEngine()
        return self._faces

    @property
    def threshold(self) -> float:
        return self.faces.threshold

    # -- the index ---------------------------------------------------------------------------
    @property
    def index(self) -> VectorIndex | None:
        """The in-memory index (built from the store on first use; None while nothing is enrolled)."""
        return self._index_state().index

    def _index_state(self) -> _IndexState:
        with self._lock:
            if self._state is None:
                self._state = self._build_index()
            return self._state

    def _build_index(self) -> _IndexState:
        embedder = self.faces.spec.embedder
        state = _IndexState(index=None)
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        with self.sessions() as session:
            state.stale = session.scalar(select(func.count()).select_from(Template)
                                         .where(Template.embedder != embedder)) or 0
            rows = session.execute(select(Template.id, Template.subject_id, Template.key_id, Template.nonce,
                                          Template.ciphertext, Template.dim)
                                   .where(Template.embedder == embedder).order_by(Template.id)
                                   .execution_options(yield_per=5000))
            for template in rows:  # plain rows, not ORM objects: a million templates must load quickly
                ids.append(template.id)
                vectors.append(self._decrypt_template(template))
                state.subject_of[template.id] = template.subject_id
            self._names = dict(session.execute(select(Subject.id, Subject.name)).tuples().all())
        if vectors:
            state.index = VectorIndex(int(vectors[0].size), self.index_kind, **self.index_params)
            matrix = np.vstack(vectors)
            state.index.add(np.asarray(ids, dtype=np.int64), matrix)
            matrix.fill(0.0)
        return state

    def refresh(self) -> tuple[int, int]:
        """Bring the index in line with the store (after another process changed it): (added, removed)."""
        with self._lock:
            if self._state is None:
                self._index_state()
                return (len(self._state.subject_of), 0) if self._state else (0, 0)
            embedder = self.faces.spec.embedder
            with self.sessions() as session:
                stored = set(session.scalars(select(Template.id).where(Template.embedder == embedder)))
                known = set(self._state.subject_of)
                gone = sorted(known - stored)
                new = sorted(stored - known)
                for template in session.scalars(select(Template).where(Template.id.in_(new))) if new else []:
                    self._index_add(template.id, template.subject_id, self._decrypt_template(template))
                self._names = dict(session.execute(select(Subject.id, Subject.name)).tuples().all())
            self._index_remove(gone)
            return len(new), len(gone)

    def _index_add(self, template_id: int, subject_id: str, vector: np.ndarray) -> None:
        state = self._index_state()
        if template_id in state.subject_of:  # the index was just built from the store, which has it already
            return
        if state.index is None:
            state.index = VectorIndex(int(vector.size), self.index_kind, **self.index_params)
        state.index.add(np.asarray([template_id], dtype=np.int64), vector.reshape(1, -1))
        state.subject_of[template_id] = subject_id

    def _index_remove(self, template_ids: Sequence[int]) -> int:
        state = self._state
        if state is None or not template_ids:
            return 0
        for template_id in template_ids:
            state.subject_of.pop(template_id, None)
        return state.index.remove(np.asarray(template_ids, dtype=np.int64)) if state.index is not None else 0

    # -- encryption helpers ------------------------------------------------------------------
    def _decrypt_template(self, template: Any) -> np.ndarray:
        """Plaintext embedding of a template row (ORM object or plain row with the same fields)."""
        plain = self.keys.decrypt(template.key_id, template.nonce, template.ciphertext,
                                  template_aad(template.id, template.subject_id), what=f"template {template.id}")
        vector = np.frombuffer(plain, dtype=np.float32)
        if vector.size != template.dim:
            raise KeyMaterialError(f"template {template.id} decrypts to {vector.size} values, expected {template.dim}")
        return vector.copy()

    def _decrypt_image(self, image: EnrolmentImage) -> bytes:
        return self.keys.decrypt(image.key_id, image.nonce, image.ciphertext,
                                 image_aad(image.id, image.subject_id), what=f"enrolment image {image.id}")

    # -- subjects ----------------------------------------------------------------------------
    def create_subject(self, subject: SubjectCreate | None = None, *, actor: str | None = None,
                       **fields: Any) -> dict[str, object]:
        """Record a subject and their legal basis; refuses (LegalBasisError) without basis, purpose, retention."""
        actor = actor or self.actor
        if subject is None:
            fields.setdefault("enrolled_by", actor)
            subject = make_subject(**fields)
        row = Subject(id=os.urandom(16).hex(), name=subject.name, legal_basis=subject.legal_basis.value,
                      purpose=subject.purpose, evidence=subject.evidence, enrolled_by=subject.enrolled_by,
                      created_at=datetime.now(UTC), retain_until=subject.retain_until)
        with self.sessions.begin() as session:
            session.add(row)
            session.flush()
            self.audit.append(session, actor=actor, action="subject_create", subject_id=row.id,
                              details={"legal_basis": row.legal_basis, "retain_until": row.retain_until.isoformat(),
                                       "evidence_recorded": bool(row.evidence)})
        with self._lock:
            self._names[row.id] = row.name
        return _subject_dict(row, 0, 0)

    def resolve(self, ref: str) -> str:
        """Subject id for ``ref``: an id, a unique id prefix (4+ characters) or a unique exact name."""
        ref = (ref or "").strip()
        with self.sessions() as session:
            if session.get(Subject, ref) is not None:
                return ref
            matches: list[str] = []
            if len(ref) >= 4:
                matches = list(session.scalars(select(Subject.id).where(Subject.id.startswith(ref, autoescape=True))))
            if not matches:
                matches = list(session.scalars(select(Subject.id).where(Subject.name == ref)))
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise SightlineError(f"{ref!r} matches {len(matches)} subjects; use the subject id", code="ambiguous")
        raise NotFoundError(f"no subject {ref!r} (erased, or never enrolled)")

    def list_subjects(self) -> list[dict[str, object]]:
        """Every subject with template and image counts (no biometric data)."""
        with self.sessions() as session:
            counts = dict(session.execute(select(Template.subject_id, func.count()).group_by(Template.subject_id))
                          .tuples().all())
            images = dict(session.execute(select(EnrolmentImage.subject_id, func.count())
                                          .group_by(EnrolmentImage.subject_id)).tuples().all())
            rows = session.scalars(select(Subject).order_by(Subject.created_at, Subject.id)).all()
            return [_subject_dict(s, counts.get(s.id, 0), images.get(s.id, 0)) for s in rows]

    def show(self, subject_id: str) -> dict[str, object]:
        """One subject's record and template metadata (no embeddings)."""
        with self.sessions() as session:
            subject = self._get_subject(session, subject_id)
            templates = session.scalars(select(Template).where(Template.subject_id == subject.id)
                                        .order_by(Template.id)).all()
            images = session.scalars(select(EnrolmentImage).where(EnrolmentImage.subject_id == subject.id)
                                     .order_by(EnrolmentImage.id)).all()
            out = _subject_dict(subject, len(templates), len(images))
            out["template_list"] = [_template_dict(t) for t in templates]
            out["image_list"] = [{"id": i.id, "media_type": i.media_type, "created_at": _utc(i.created_at).isoformat()}
                                 for i in images]
            return out

    def _get_subject(self, session: Session, subject_id: str) -> Subject:
        subject = session.get(Subject, subject_id)
        if subject is None:
            raise NotFoundError(f"no subject {subject_id!r} (erased, or never enrolled)")
        return subject

    # -- enrolment ---------------------------------------------------------------------------
    def enroll(self, subject_id: str, images: Iterable[ImageInput], *, store_images: bool = False,
               actor: str | None = None) -> list[EnrolResult]:
        """Enrol each image (each committed on its own); rejected images are reported, not raised."""
        return [self.enroll_image(subject_id, image, store_image=store_images, actor=actor) for image in images]

    def enroll_image(self, subject_id: str, image: ImageInput, *, store_image: bool = False,
                     actor: str | None = None, source: str | None = None) -> EnrolResult:
        """Quality-check one image, encrypt and store its template, audit it, then add it to the index."""
        actor = actor or self.actor
        source = source or (Path(image).name if isinstance(image, str | Path) else "image")
        with self.sessions() as session:
            self._get_subject(session, subject_id)
        try:
            pixels = load_image(image)
            faces = self.faces.detect_array(pixels)
            face = self.gate.check(faces)
        except (QualityError, SightlineError) as exc:
            reason = exc.code
            with self.sessions.begin() as session:
                self.audit.append(session, actor=actor, action="enrol", subject_id=subject_id, outcome="rejected",
                                  details={"reason": reason})
            return EnrolResult(source, False, reason=reason, message=exc.message)
        vector = np.asarray(self.faces.embedder.embed(pixels, [face])[0], dtype=np.float32)
        quality = float(face.quality.score) if face.quality else 0.0
        with self.sessions.begin() as session:
            image_id = None
            if store_image:
                data, media_type = _image_bytes(image, pixels)
                stored = EnrolmentImage(subject_id=subject_id, media_type=media_type, key_id="", nonce=b"",
                                        ciphertext=b"", created_at=datetime.now(UTC))
                session.add(stored)
                session.flush()
                stored.key_id, stored.nonce, stored.ciphertext = self.keys.encrypt(data, image_aad(stored.id,
                                                                                                   subject_id))
                image_id = stored.id
            template = Template(subject_id=subject_id, image_id=image_id, backend=self.faces.backend,
                                embedder=self.faces.spec.embedder, dim=int(vector.size), quality=quality,
                                source=source[:500], key_id="", nonce=b"", ciphertext=b"",
                                created_at=datetime.now(UTC))
            session.add(template)
            session.flush()
            template.key_id, template.nonce, template.ciphertext = self.keys.encrypt(
                vector.tobytes(), template_aad(template.id, subject_id))
            self.audit.append(session, actor=actor, action="enrol", subject_id=subject_id, outcome="accepted",
                              details={"template_id": template.id, "quality": round(quality, 3),
                                       "image_stored": image_id is not None})
            template_id = template.id
        with self._lock:
            self._index_add(template_id, subject_id, vector)
        return EnrolResult(source, True, template_id=template_id,
                           quality=face.quality.to_dict() if face.quality else {})

    # -- recognition -------------------------------------------------------------------------
    def identify(self, image: ImageInput, k: int = 3, *, threshold: float | None = None,
                 attributes: Sequence[str] | None = None, actor: str | None = None) -> list[Identification]:
        """Every face in ``image`` with its top-``k`` subjects; a face below the threshold is ``unknown``."""
        check_attributes(attributes)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SightlineError(f"k must be a whole number >= 1, got {k!r}", code="bad_request")
        limit = self.threshold if threshold is None else float(threshold)
        faces = self.faces.detect(image, embed=True)
        results = [Identification(face, self._candidates(face.embedding, k), limit) for face in faces]
        matched = sorted({r.decision for r in results if r.match is not None})
        outcome = "match" if matched else ("no_face" if not faces else "no_match")
        self.audit.record(actor=actor or self.actor, action="identify",
                          subject_id=matched[0] if len(matched) == 1 else None, outcome=outcome,
                          details={"faces": len(faces), "matched": matched,
                                   "unknown": sum(1 for r in results if r.match is None)})
        return results

    def match_embedding(self, vector: np.ndarray, *, camera: str | None = None,
                        threshold: float | None = None, actor: str | None = None) -> Candidate | None:
        """1:N for one already-computed embedding (video pipelines): the best subject above threshold, or None.

        Audited like :meth:`identify`, with the camera as context; no biometric data is logged.
        """
        limit = self.threshold if threshold is None else float(threshold)
        candidates = self._candidates(vector, 1)
        best = candidates[0] if candidates and candidates[0].score >= limit else None
        self.audit.record(actor=actor or self.actor, action="identify",
                          subject_id=best.subject_id if best else None,
                          outcome="match" if best else "no_match",
                          details={"faces": 1, "camera": camera, "score": round(best.score, 4) if best else None})
        return best

    def _candidates(self, vector: np.ndarray | None, k: int) -> list[Candidate]:
        state = self._index_state()
        if vector is None or state.index is None or len(state.index) == 0:
            return []
        fetch = min(len(state.index), k * TEMPLATES_PER_SUBJECT_SEARCHED)
        scores, ids = state.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), fetch)
        best: dict[str, float] = {}
        for score, template_id in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
            subject_id = state.subject_of.get(template_id) if template_id >= 0 else None
            if subject_id is not None and score > best.get(subject_id, -np.inf):
                best[subject_id] = score
        ranked = sorted(best.items(), key=lambda item: -item[1])[:k]
        return [Candidate(sid, self._names.get(sid, ""), float(score)) for sid, score in ranked]

    def verify(self, image: ImageInput, subject_id: str, *, threshold: float | None = None,
               actor: str | None = None) -> VerifyOutcome:
        """1:1: is the main face of ``image`` this subject? (best similarity over their templates)."""
        limit = self.threshold if threshold is None else float(threshold)
        with self.sessions() as session:
            subject = self._get_subject(session, subject_id)
            name = subject.name
            templates = session.scalars(select(Template).where(Template.subject_id == subject_id,
                                                               Template.embedder == self.faces.spec.embedder)).all()
            vectors = [self._decrypt_template(t) for t in templates]
        if not vectors:
            raise NotFoundError(f"subject {subject_id} has no templates made by the {self.faces.spec.embedder} "
                                "embedder: enrol them first")
        face = self.faces.main_face(image)
        score = float(np.max(np.vstack(vectors) @ np.asarray(face.embedding, dtype=np.float32)))
        outcome = VerifyOutcome(subject_id, name, score, score >= limit, limit, len(vectors), face)
        self.audit.record(actor=actor or self.actor, action="verify", subject_id=subject_id,
                          outcome="match" if outcome.same_person else "no_match",
                          details={"score": round(score, 4), "threshold": limit})
        return outcome

    # -- data-subject rights -----------------------------------------------------------------
    def erase(self, subject_id: str, *, actor: str | None = None, reason: str = "request") -> ErasureReport:
        """Delete the subject, their templates and images (overwritten on disk), and their index entries."""
        actor = actor or self.actor
        with self.sessions.begin() as session:
            self._get_subject(session, subject_id)
            template_ids = list(session.scalars(select(Template.id).where(Template.subject_id == subject_id)))
            related = run_erasure_hooks(session, subject_id)
            images = session.execute(delete(EnrolmentImage).where(EnrolmentImage.subject_id == subject_id)).rowcount
            session.execute(delete(Template).where(Template.subject_id == subject_id))
            session.execute(delete(Subject).where(Subject.id == subject_id))
            self.audit.append(session, actor=actor, action="erase", subject_id=subject_id,
                              details={"templates": len(template_ids), "images": images, "reason": reason,
                                       **({"related": related} if related else {})})
        with self._lock:
            removed = self._index_remove(template_ids)
            self._names.pop(subject_id, None)
        self._flush_freed_pages()
        return ErasureReport(subject_id, len(template_ids), images, removed, reason)

    def _flush_freed_pages(self) -> None:
        """SQLite: fold the WAL (which still holds old page images) back into the zeroed main file."""
        sqlite_checkpoint(self.db)

    def export(self, subject_id: str, out_dir: str | Path, *, include_templates: bool = False,
               actor: str | None = None) -> Path:
        """Write everything held about a subject (subject-access request) into a new folder; returns it."""
        actor = actor or self.actor
        with self.sessions() as session:
            subject = self._get_subject(session, subject_id)
            templates = session.scalars(select(Template).where(Template.subject_id == subject_id)
                                        .order_by(Template.id)).all()
            images = session.scalars(select(EnrolmentImage).where(EnrolmentImage.subject_id == subject_id)
                                     .order_by(EnrolmentImage.id)).all()
            audit_rows = session.scalars(select(AuditEntry).where(or_(
                AuditEntry.subject_id == subject_id, AuditEntry.details.contains(subject_id)))
                .order_by(AuditEntry.seq)).all()
            bundle = Path(out_dir) / f"sightline-export-{subject_id}"
            bundle.mkdir(parents=True, exist_ok=False, mode=0o700)
            image_files = []
            if images:
                (bundle / "images").mkdir(mode=0o700)
            for image in images:
                name = f"images/{image.id}{mimetypes.guess_extension(image.media_type) or '.bin'}"
                _write_private(bundle / name, self._decrypt_image(image))
                image_files.append({"id": image.id, "file": name, "media_type": image.media_type,
                                    "created_at": _utc(image.created_at).isoformat()})
            document = {
                "format": "sightline-subject-export/1",
                "generated_at": datetime.now(UTC).isoformat(),
                "generated_by": actor,
                "subject": _subject_dict(subject, len(templates), len(images)),
                "templates": [_template_dict(t) for t in templates],
                "templates_included": include_templates,
                "images": image_files,
                "audit": [entry_to_dict(e) for e in audit_rows],
            }
            _write_private(bundle / "subject.json", json.dumps(document, indent=2, ensure_ascii=False).encode())
            if include_templates:
                vectors = [{"template_id": t.id, "embedder": t.embedder,
                            "embedding": [round(float(v), 7) for v in self._decrypt_template(t)]} for t in templates]
                _write_private(bundle / "templates.json", json.dumps(vectors).encode())
        self.audit.record(actor=actor, action="export", subject_id=subject_id,
                          details={"templates": len(templates), "images": len(images),
                                   "templates_included": include_templates})
        return bundle

    # -- keys --------------------------------------------------------------------------------
    def rotate_key(self, *, new_key: bytes | None = None, actor: str | None = None) -> RotationReport:
        """Re-encrypt every template and image under a new key, then destroy the old key files."""
        actor = actor or self.actor
        if self.keys.from_env and new_key is None:
            raise KeyMaterialError("the key comes from $SIGHTLINE_KEY: pass the new key (e.g. "
                                   "SIGHTLINE_NEW_KEY) and set SIGHTLINE_KEY to it afterwards")
        old_keys = [k for k in self.keys.key_ids()]
        new_id = self.keys.add_new_key(new_key)
        old_keys = [k for k in old_keys if k != new_id]
        self.keys.activate(new_id)
        with self.sessions.begin() as session:
            templates = images = 0
            for template in session.scalars(select(Template).execution_options(yield_per=1000)):
                if template.key_id == new_id:
                    continue
                aad = template_aad(template.id, template.subject_id)
                plain = self.keys.decrypt(template.key_id, template.nonce, template.ciphertext, aad,
                                          what=f"template {template.id}")
                template.key_id, template.nonce, template.ciphertext = self.keys.encrypt(plain, aad)
                templates += 1
            for image in session.scalars(select(EnrolmentImage).execution_options(yield_per=100)):
                if image.key_id == new_id:
                    continue
                aad = image_aad(image.id, image.subject_id)
                plain = self._decrypt_image(image)
                image.key_id, image.nonce, image.ciphertext = self.keys.encrypt(plain, aad)
                images += 1
            self.audit.append(session, actor=actor, action="key_rotation",
                              details={"old_keys": old_keys, "new_key": new_id, "templates": templates,
                                       "images": images})
        for key_id in old_keys:
            self.keys.retire(key_id)
        self._flush_freed_pages()
        return RotationReport(old_keys, new_id, templates, images)

    # -- status ------------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        """Counts for ``sightline gallery list`` and health checks."""
        with self.sessions() as session:
            subjects = session.scalar(select(func.count()).select_from(Subject)) or 0
            templates = session.scalar(select(func.count()).select_from(Template)) or 0
        return {"subjects": subjects, "templates": templates, "database": self.db.url.render_as_string(True),
                "key_id": self.keys.active_id, "key_source": "env" if self.keys.from_env else "file"}


def _subject_dict(subject: Subject, templates: int, images: int) -> dict[str, object]:
    return {"id": subject.id, "name": subject.name, "legal_basis": subject.legal_basis, "purpose": subject.purpose,
            "evidence": subject.evidence, "enrolled_by": subject.enrolled_by,
            "created_at": _utc(subject.created_at).isoformat(), "retain_until": _utc(subject.retain_until).isoformat(),
            "templates": templates, "images": images}


def _template_dict(template: Template) -> dict[str, object]:
    return {"id": template.id, "created_at": _utc(template.created_at).isoformat(), "backend": template.backend,
            "embedder": template.embedder, "dim": template.dim, "quality": round(template.quality, 4),
            "source": template.source, "image_id": template.image_id, "key_id": template.key_id}


def _image_bytes(image: ImageInput, pixels: np.ndarray) -> tuple[bytes, str]:
    """The original file bytes when we have them (no re-compression), else a PNG of the pixels."""
    if isinstance(image, str | Path):
        media_type = mimetypes.guess_type(str(image))[0] or "application/octet-stream"
        return Path(image).read_bytes(), media_type
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise SightlineError("could not encode the enrolment image", code="bad_image")
    return encoded.tobytes(), "image/png"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
