"""Switching embedders: re-enrol every subject from their kept photos with the current face backend.

Templates are per embedder (a dlib vector cannot be compared with a fused one), so after a backend
change the old templates are not searchable. :class:`ReembedService` decrypts each kept enrolment
photo (``--store-images``) that has no template of the current embedder yet, runs the usual
quality gate and embedding on it, and stores the new template next to the old one (so switching
back needs no work). Subjects whose templates have no kept photo are listed as needing new photos.
Each photo is committed on its own and audited; a second run does only what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sightline.gallery.context import GalleryContext
from sightline.gallery.enrolment import EnrolmentService, PreparedFace
from sightline.privacy.crypto import image_aad
from sightline.store import templates_repo


@dataclass
class ReembedReport:
    """What one re-enrolment run did, per photo and per subject (no biometric data)."""

    embedder: str
    reembedded: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)  # photo -> reason
    needs_photos: list[dict[str, object]] = field(default_factory=list)  # subjects with no usable kept photo
    up_to_date: int = 0  # subjects already searchable with this embedder

    def to_dict(self) -> dict[str, object]:
        return {"embedder": self.embedder, "reembedded": self.reembedded, "rejected": self.rejected,
                "needs_photos": self.needs_photos, "up_to_date": self.up_to_date}


class ReembedService:
    """Brings every subject's templates to the current embedder from their kept photos."""

    def __init__(self, ctx: GalleryContext, enrolment: EnrolmentService) -> None:
        self.ctx = ctx
        self.enrolment = enrolment

    def plan(self) -> list[dict[str, Any]]:
        """Per subject with templates of another embedder: kept photos still to embed and whether it is searchable."""
        embedder = self.ctx.faces.spec.embedder
        with self.ctx.sessions() as session:
            return templates_repo.reembed_plan(session, embedder)

    def run(self, *, actor: str | None = None, progress: Callable[[int, int], None] | None = None) -> ReembedReport:
        """Embed every kept photo that lacks a template of the current embedder; report who needs new photos."""
        actor = actor or self.ctx.actor
        embedder = self.ctx.faces.spec.embedder
        report = ReembedReport(embedder)
        plan = self.plan()
        total = sum(len(item["image_ids"]) for item in plan)
        done = 0
        for item in plan:
            subject_id = str(item["subject_id"])
            made = 0
            for image_id in item["image_ids"]:
                made += self._one(subject_id, int(image_id), actor, report)
                done += 1
                if progress is not None:
                    progress(done, total)
            if item["current_templates"] == 0 and made == 0:
                report.needs_photos.append({"subject_id": subject_id, "name": item["name"],
                                            "templates_of_other_embedders": item["other_templates"],
                                            "kept_photos": len(item["image_ids"])})
            elif not item["image_ids"]:
                report.up_to_date += 1
        self.ctx.audit.record(actor=actor, action="reembed", outcome="ok",
                              details={"embedder": embedder, "reembedded": report.reembedded,
                                       "rejected": len(report.rejected), "needs_photos": len(report.needs_photos)})
        return report

    def _one(self, subject_id: str, image_id: int, actor: str, report: ReembedReport) -> int:
        with self.ctx.sessions() as session:
            stored = templates_repo.get_image(session, image_id)
            if stored is None or stored.subject_id != subject_id:  # erased meanwhile
                return 0
            data = self.ctx.keys.decrypt(stored.key_id, stored.nonce, stored.ciphertext,
                                         image_aad(image_id, subject_id), what="enrolment photo")
        item = self.enrolment.prepare(data, source=f"kept photo {image_id}")
        if not isinstance(item, PreparedFace):
            report.rejected.append({"subject_id": subject_id, "image_id": image_id, "reason": item.reason})
            return 0
        with self.ctx.sessions.begin() as session:
            if templates_repo.get_image(session, image_id) is None:
                return 0
            result = self.enrolment.record_for_image(session, subject_id, item, image_id, actor)
        self.enrolment.search.add(int(result.template_id), subject_id, item.vector)  # type: ignore[arg-type]
        report.reembedded += 1
        return 1
