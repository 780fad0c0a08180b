"""Data-subject rights and key custody: erasure, subject-access export, key rotation.

Erasure removes the subject, their templates, stored photos and negative
examples (and, through the erasure hooks, their events) in one audited
transaction, then the index entries, then folds SQLite's WAL back into the
zeroed file. Export writes everything held about a subject. Rotation
re-encrypts every ciphertext under a new key and destroys the old key files.
"""

from __future__ import annotations

import json
import mimetypes
import os
from datetime import UTC, datetime
from pathlib import Path

from sightline.errors import KeyMaterialError
from sightline.gallery.context import GalleryContext
from sightline.gallery.records import ErasureReport, RotationReport, negative_aad, subject_dict, template_dict, utc
from sightline.gallery.search import SearchIndex
from sightline.privacy.audit import entry_to_dict
from sightline.privacy.crypto import image_aad, template_aad
from sightline.privacy.erasure import run_erasure_hooks
from sightline.privacy.export_hooks import run_export_hooks
from sightline.store import changes_repo, subjects_repo, templates_repo
from sightline.store.tables import EnrolmentImage, NegativeExample, Template


class RightsService:
    """Erase, export and re-key the gallery's personal data."""

    def __init__(self, ctx: GalleryContext, search: SearchIndex) -> None:
        self.ctx = ctx
        self.search = search

    def erase(self, subject_id: str, *, actor: str | None = None, reason: str = "request") -> ErasureReport:
        """Delete the subject, their templates, images and negatives (overwritten on disk), and index entries."""
        actor = actor or self.ctx.actor
        with self.ctx.sessions.begin() as session:
            self.ctx.require_subject(session, subject_id)
            template_ids = templates_repo.subject_template_ids(session, subject_id)
            related = run_erasure_hooks(session, subject_id)
            images, negatives = templates_repo.delete_subject_data(session, subject_id)
            subjects_repo.delete_subject(session, subject_id)
            changes_repo.forget_subject(session, subject_id)  # the feed keeps only the erase row: ids, no more
            changes_repo.record(session, "erase", subject_id, template_ids)  # every replica drops them too
            details: dict[str, object] = {"templates": len(template_ids), "images": images, "reason": reason}
            if negatives:
                details["negatives"] = negatives
            if related:
                details["related"] = related
            self.ctx.audit.append(session, actor=actor, action="erase", subject_id=subject_id, details=details)
        removed = self.search.forget_subject(subject_id, template_ids)
        self.ctx.flush_freed_pages()
        return ErasureReport(subject_id, len(template_ids), images, removed, reason, negatives)

    def export(self, subject_id: str, out_dir: str | Path, *, include_templates: bool = False,
               actor: str | None = None) -> Path:
        """Write everything held about a subject (subject-access request) into a new folder; returns it."""
        actor = actor or self.ctx.actor
        with self.ctx.sessions() as session:
            subject = self.ctx.require_subject(session, subject_id)
            templates = templates_repo.subject_templates(session, subject_id)
            images = templates_repo.subject_images(session, subject_id)
            negatives = templates_repo.negatives_of(session, subject_id)
            audit_rows = subjects_repo.audit_rows_about(session, subject_id)
            bundle = Path(out_dir) / f"sightline-export-{subject_id}"
            bundle.mkdir(parents=True, exist_ok=False, mode=0o700)
            image_files = []
            if images:
                (bundle / "images").mkdir(mode=0o700)
            for image in images:
                name = f"images/{image.id}{mimetypes.guess_extension(image.media_type) or '.bin'}"
                _write_private(bundle / name, self.ctx.decrypt_image(image))
                image_files.append({"id": image.id, "file": name, "media_type": image.media_type,
                                    "created_at": utc(image.created_at).isoformat()})
            document = {
                "format": "sightline-subject-export/1",
                "generated_at": datetime.now(UTC).isoformat(),
                "generated_by": actor,
                "subject": subject_dict(subject, len(templates), len(images)),
                "templates": [template_dict(t) for t in templates],
                "templates_included": include_templates,
                "negatives": [{"id": n.id, "created_at": utc(n.created_at).isoformat(), "source": n.source,
                               "created_by": n.created_by, "embedder": n.embedder} for n in negatives],
                "images": image_files,
                "audit": [entry_to_dict(e) for e in audit_rows],
                "related": run_export_hooks(session, subject_id),
                "change_feed": changes_repo.rows_of_subject(session, subject_id),  # ids and times only
            }
            _write_private(bundle / "subject.json", json.dumps(document, indent=2, ensure_ascii=False).encode())
            if include_templates:
                vectors = [{"template_id": t.id, "embedder": t.embedder,
                            "embedding": [round(float(v), 7) for v in self.ctx.decrypt_template(t)]}
                           for t in templates]
                _write_private(bundle / "templates.json", json.dumps(vectors).encode())
        self.ctx.audit.record(actor=actor, action="export", subject_id=subject_id,
                              details={"templates": len(templates), "images": len(images),
                                       "templates_included": include_templates})
        return bundle

    def rotate_key(self, *, new_key: bytes | None = None, actor: str | None = None) -> RotationReport:
        """Re-encrypt every template, image and negative under a new key, then destroy the old key files."""
        actor = actor or self.ctx.actor
        keys = self.ctx.keys
        if keys.from_env and new_key is None:
            raise KeyMaterialError("the key comes from $SIGHTLINE_KEY: pass the new key (e.g. "
                                   "SIGHTLINE_NEW_KEY) and set SIGHTLINE_KEY to it afterwards")
        old_keys = list(keys.key_ids())
        new_id = keys.add_new_key(new_key)
        old_keys = [k for k in old_keys if k != new_id]
        keys.activate(new_id)
        counts = {"templates": 0, "images": 0, "negatives": 0}
        tables = (("templates", Template, template_aad), ("images", EnrolmentImage, image_aad),
                  ("negatives", NegativeExample, negative_aad))
        with self.ctx.sessions.begin() as session:
            for what, table, aad_of in tables:
                for row in templates_repo.iter_all(session, table, 100 if table is EnrolmentImage else 1000):
                    if row.key_id == new_id:
                        continue
                    aad = aad_of(row.id, row.subject_id)
                    plain = keys.decrypt(row.key_id, row.nonce, row.ciphertext, aad, what=f"{what} {row.id}")
                    row.key_id, row.nonce, row.ciphertext = keys.encrypt(plain, aad)
                    counts[what] += 1
            self.ctx.audit.append(session, actor=actor, action="key_rotation",
                                  details={"old_keys": old_keys, "new_key": new_id, "templates": counts["templates"],
                                           "images": counts["images"], "negatives": counts["negatives"]})
        for key_id in old_keys:
            keys.retire(key_id)
        self.ctx.flush_freed_pages()
        return RotationReport(old_keys, new_id, counts["templates"], counts["images"], counts["negatives"])


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
