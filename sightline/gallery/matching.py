"""Matching: 1:N identification, 1:1 verification against a subject, and 1:N for one camera embedding.

Every call is audited with the threshold it used. Whether a candidate counts
as a match is decided by :func:`decide` alone (threshold, the subject's own
threshold, and the margin over the subject's negative examples), so an
open-set calibration can replace that one function.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sightline.errors import NotFoundError, SightlineError
from sightline.gallery.context import GalleryContext
from sightline.gallery.records import Candidate, Identification, VerifyOutcome
from sightline.gallery.search import SearchIndex
from sightline.gallery.thresholds import request_threshold
from sightline.privacy.policy import check_attributes
from sightline.store import subjects_repo, templates_repo
from sightline.vision.image_io import ImageInput

NEGATIVE_MARGIN = 0.03  # a match must beat the subject's closest "not this person" example by this much


def decide(score: float, threshold: float, subject_threshold: float | None = None,
           negative_score: float | None = None) -> bool:
    """Is a similarity of ``score`` to a subject a match?

    It must reach the request's threshold and the subject's own (stricter)
    threshold, and beat the subject's most similar negative example by
    :data:`NEGATIVE_MARGIN`.
    """
    limit = threshold if subject_threshold is None else max(threshold, subject_threshold)
    if score < limit:
        return False
    return negative_score is None or score >= negative_score + NEGATIVE_MARGIN


class MatchingService:
    """Searches the gallery and decides who (if anyone) a face is."""

    def __init__(self, ctx: GalleryContext, search: SearchIndex) -> None:
        self.ctx = ctx
        self.search = search

    def threshold_for(self, threshold: float | None, *, allow_lower: bool = False) -> float:
        """The threshold a request will use (raises ``ThresholdError`` if it may not lower it that far)."""
        return request_threshold(threshold, self.ctx.calibrated_threshold, may_lower=allow_lower)

    def candidates(self, vector: np.ndarray | None, k: int, threshold: float) -> list[Candidate]:
        """The ``k`` most similar subjects, best first, each marked with the match decision."""
        found = []
        for subject_id, score in self.search.nearest(vector, k):
            accepted = decide(score, threshold, self.search.subject_threshold(subject_id),
                              self.search.negative_score(subject_id, vector))
            found.append(Candidate(subject_id, self.search.name(subject_id), float(score), accepted))
        return found

    def identify(self, image: ImageInput, k: int = 3, *, threshold: float | None = None,
                 attributes: Sequence[str] | None = None, actor: str | None = None, allow_lower: bool = False,
                 explain: bool = False) -> list[Identification]:
        """Every face in ``image`` with its top-``k`` subjects; a face that matches nobody is ``unknown``."""
        check_attributes(attributes)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SightlineError(f"k must be a whole number >= 1, got {k!r}", code="bad_request")
        limit = self.threshold_for(threshold, allow_lower=allow_lower)
        faces = self.ctx.faces.detect(image, embed=True)
        results = [Identification(face, self.candidates(face.embedding, k, limit), limit) for face in faces]
        matched = sorted({r.decision for r in results if r.match is not None})
        outcome = "match" if matched else ("no_face" if not faces else "no_match")
        details: dict[str, object] = {"faces": len(faces), "matched": matched,
                                      "unknown": sum(1 for r in results if r.match is None), "threshold": limit}
        if explain:
            details["explain"] = True  # near-miss candidates were shown to the caller
        self.ctx.audit.record(actor=actor or self.ctx.actor, action="identify",
                              subject_id=matched[0] if len(matched) == 1 else None, outcome=outcome, details=details)
        return results

    def match_embedding(self, vector: np.ndarray, *, camera: str | None = None, threshold: float | None = None,
                        actor: str | None = None, allow_lower: bool = False) -> Candidate | None:
        """1:N for one already-computed embedding (video pipelines): the best matching subject, or None.

        Audited like :meth:`identify`, with the camera as context; no biometric data is logged.
        """
        limit = self.threshold_for(threshold, allow_lower=allow_lower)
        best = next((c for c in self.candidates(vector, 3, limit) if c.accepted), None)
        self.ctx.audit.record(actor=actor or self.ctx.actor, action="identify",
                              subject_id=best.subject_id if best else None, outcome="match" if best else "no_match",
                              details={"faces": 1, "camera": camera, "score": round(best.score, 4) if best else None,
                                       "threshold": limit})
        return best

    def verify(self, image: ImageInput, subject_id: str, *, threshold: float | None = None,
               actor: str | None = None, allow_lower: bool = False) -> VerifyOutcome:
        """1:1: is the main face of ``image`` this subject? (best similarity over their templates)."""
        limit = self.threshold_for(threshold, allow_lower=allow_lower)
        embedder = self.ctx.faces.spec.embedder
        with self.ctx.sessions() as session:
            subject = self.ctx.require_subject(session, subject_id)
            name = subject.name
            vectors = [self.ctx.decrypt_template(t)
                       for t in templates_repo.subject_templates(session, subject_id, embedder)]
            negatives = [self.ctx.decrypt_negative(n) for n in templates_repo.negatives_of(session, subject_id,
                                                                                            embedder)]
            own = subjects_repo.get_subject(session, subject_id).threshold
        if not vectors:
            raise NotFoundError(f"subject {subject_id} has no templates made by the {embedder} embedder: enrol them "
                                "first")
        face = self.ctx.faces.main_face(image)
        probe = np.asarray(face.embedding, dtype=np.float32)
        score = float(np.max(np.vstack(vectors) @ probe))
        negative = float(np.max(np.vstack(negatives) @ probe)) if negatives else None
        used = limit if own is None else max(limit, own)
        outcome = VerifyOutcome(subject_id, name, score, decide(score, limit, own, negative), used, len(vectors), face)
        self.ctx.audit.record(actor=actor or self.ctx.actor, action="verify", subject_id=subject_id,
                              outcome="match" if outcome.same_person else "no_match",
                              details={"score": round(score, 4), "threshold": used})
        return outcome
