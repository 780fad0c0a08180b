"""What every gallery service shares: the store, the key ring, the audit log, the face engine, the actor.

Also the one place ciphertext rows are turned back into vectors or bytes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from sightline.engine import FaceEngine
from sightline.errors import KeyMaterialError, NotFoundError
from sightline.gallery.records import negative_aad
from sightline.privacy.audit import AuditLog
from sightline.privacy.crypto import KeyRing, image_aad, template_aad
from sightline.store import subjects_repo
from sightline.store.db import session_factory, sqlite_checkpoint
from sightline.store.tables import EnrolmentImage, Subject


class GalleryContext:
    """Store, keys, audit log and (lazily created) face engine of one gallery."""

    def __init__(self, home: Path, db: Engine, keys: KeyRing, *, engine: FaceEngine | None, actor: str) -> None:
        self.home = home
        self.db = db
        self.sessions = session_factory(db)
        self.audit = AuditLog(self.sessions, home)  # keyed with home/audit/chain.hmac; checkpoints beside it
        self.keys = keys
        self.actor = actor
        self.lock = threading.RLock()
        self._faces = engine

    @property
    def faces(self) -> FaceEngine:
        """The face engine (created on first use with the default backend)."""
        if self._faces is None:
            self._faces = FaceEngine()
        return self._faces

    @property
    def calibrated_threshold(self) -> float:
        """The face engine's calibrated cosine threshold."""
        return self.faces.threshold

    def require_subject(self, session: Any, subject_id: str) -> Subject:
        """The subject row, or :class:`NotFoundError`."""
        subject = subjects_repo.get_subject(session, subject_id)
        if subject is None:
            raise NotFoundError(f"no subject {subject_id!r} (erased, or never enrolled)")
        return subject

    def decrypt_template(self, template: Any) -> np.ndarray:
        """Plaintext embedding of a template row (ORM object or plain row with the same fields)."""
        plain = self.keys.decrypt(template.key_id, template.nonce, template.ciphertext,
                                  template_aad(template.id, template.subject_id), what=f"template {template.id}")
        return _as_vector(plain, template.dim, f"template {template.id}")

    def decrypt_negative(self, negative: Any) -> np.ndarray:
        """Plaintext embedding of a negative example row."""
        plain = self.keys.decrypt(negative.key_id, negative.nonce, negative.ciphertext,
                                  negative_aad(negative.id, negative.subject_id), what=f"negative {negative.id}")
        return _as_vector(plain, negative.dim, f"negative {negative.id}")

    def decrypt_image(self, image: EnrolmentImage) -> bytes:
        """Original bytes of a stored enrolment image."""
        return self.keys.decrypt(image.key_id, image.nonce, image.ciphertext,
                                 image_aad(image.id, image.subject_id), what=f"enrolment image {image.id}")

    def flush_freed_pages(self) -> None:
        """SQLite: fold the WAL (which still holds old page images) back into the zeroed main file."""
        sqlite_checkpoint(self.db)


def _as_vector(plain: bytes, dim: int, what: str) -> np.ndarray:
    vector = np.frombuffer(plain, dtype=np.float32)
    if vector.size != dim:
        raise KeyMaterialError(f"{what} decrypts to {vector.size} values, expected {dim}")
    return vector.copy()
