"""Matching: 1:N identification, 1:1 verification against a subject, and 1:N for one camera embedding.

Every call is audited with the threshold it used. Whether a candidate counts
as a match is decided by :func:`decide` alone (threshold, the subject's own
threshold, and the margin over the subject's negative examples). For 1:N the
threshold comes from the open-set operating point (sightline.calibration: a target
stranger rate, the gallery size, the face's condition and camera) unless the request
names one; 1:1 verification keeps the calibrated verification threshold.
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
from sightline.vision.faces.types import Face
from sightline.vision.image_io import ImageInput, load_image

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
        self._open_set = None

    def open_set_limit(self, vector: np.ndarray | None, threshold: float | None, *, allow_lower: bool = False,
                       pixels: np.ndarray | None = None, face=None, camera: str | None = None) -> tuple[float, dict]:
        """The 1:N threshold for one face and its audit fields: the request's own threshold when it names one,
        else the open-set operating point (falling back to the verification threshold when none is shipped)."""
        if threshold is not None:
            return self.threshold_for(threshold, allow_lower=allow_lower), {"operating_point": "request"}
        if self._open_set is None:
            from sightline.calibration.service import OpenSetService
            self._open_set = OpenSetService(self.ctx.sessions, self.ctx.audit, self.ctx.faces)
        index = self.search.index
        found = self._open_set.limit_for(vector, pixels=pixels, face=face, camera=camera,
                                         comparisons=len(index) if index is not None else 0)
        if found is None:
            return self.threshold_for(None), {"operating_point": "verification threshold (no open-set policy)"}
        return found

    def threshold_for(self, threshold: float | None, *, allow_lower: bool = False) -> float:
        """The threshold a request will use (raises ``ThresholdError`` if it may not lower it that far)."""
        return request_threshold(threshold, self.ctx.calibrated_threshold, may_lower=allow_lower)

    def candidates(self, vector: np.ndarray | None, k: int, threshold: float, margin: float = 0.0) -> list[Candidate]:
        """The ``k`` most similar subjects, best first, each marked with the match decision (nobody is accepted
        when the best two subjects are within ``margin`` of each other: too close to tell apart)."""
        found = []
        for subject_id, score in self.search.nearest(vector, max(k, 2) if margin else k):
            accepted = decide(score, threshold, self.search.subject_threshold(subject_id),
                              self.search.negative_score(subject_id, vector))
            found.append(Candidate(subject_id, self.search.name(subject_id), float(score), accepted))
        if margin and len(found) > 1 and found[0].score - found[1].score < margin:
            for candidate in found:
                candidate.accepted = False
        return found[:k]

    def identify(self, image: ImageInput, k: int = 3, *, threshold: float | None = None,
                 attributes: Sequence[str] | None = None, actor: str | None = None, allow_lower: bool = False,
                 explain: bool = False) -> list[Identification]:
        """Every face in ``image`` with its top-``k`` subjects; a face that matches nobody is ``unknown``."""
        self.check_identify(k, threshold, attributes=attributes, allow_lower=allow_lower)
        pixels = load_image(image)
        faces = self.ctx.faces.detect_array(pixels, embed=True)
        return self.identify_faces(pixels, faces, k, threshold=threshold, actor=actor, allow_lower=allow_lower,
                                   explain=explain)

    def check_identify(self, k: int, threshold: float | None, *, attributes: Sequence[str] | None = None,
                       allow_lower: bool = False) -> None:
        """Refuse a bad identify request before any work (prohibited attributes, bad ``k``, too low a threshold)."""
        check_attributes(attributes)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SightlineError(f"k must be a whole number >= 1, got {k!r}", code="bad_request")
        self.threshold_for(threshold, allow_lower=allow_lower)

    def identify_faces(self, pixels: np.ndarray, faces: Sequence[Face], k: int = 3, *, threshold: float | None = None,
                       actor: str | None = None, allow_lower: bool = False,
                       explain: bool = False) -> list[Identification]:
        """Search, decide and audit for ``faces`` already detected and embedded in ``pixels`` (here, or by an
        inference worker of the server: the decision and the audit row are the same either way)."""
        results, points = [], []
        for face in faces:
            limit, point = self.open_set_limit(face.embedding, threshold, allow_lower=allow_lower, pixels=pixels,
                                               face=face)
            found = self.candidates(face.embedding, k, limit, float(point.get("margin", 0.0)))
            results.append(Identification(face, found, round(limit, 4)))
            points.append(point)
        matched = sorted({r.decision for r in results if r.match is not None})
        outcome = "match" if matched else ("no_face" if not faces else "no_match")
        details: dict[str, object] = {"faces": len(faces), "matched": matched,
                                      "unknown": sum(1 for r in results if r.match is None),
                                      "threshold": max((r.threshold for r in results), default=self.threshold_for(
                                          threshold, allow_lower=allow_lower)),
                                      "thresholds": [r.threshold for r in results], **_operating_point(points)}
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
        limit, point = self.open_set_limit(vector, threshold, allow_lower=allow_lower, camera=camera)
        best = next((c for c in self.candidates(vector, 3, limit, float(point.get("margin", 0.0))) if c.accepted),
                    None)
        self.ctx.audit.record(actor=actor or self.ctx.actor, action="identify",
                              subject_id=best.subject_id if best else None, outcome="match" if best else "no_match",
                              details={"faces": 1, "camera": camera, "score": round(best.score, 4) if best else None,
                                       "threshold": round(limit, 4), **_operating_point([point])})
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


def _operating_point(points: list[dict]) -> dict[str, object]:
    """Audit fields of the operating points used for a request's faces (target rate, source, conditions)."""
    if not points:
        return {}
    first = points[0]
    out: dict[str, object] = {key: first[key] for key in ("target_fpir", "operating_point", "score_kind", "templates",
                                                          "margin") if key in first}
    if any("condition" in p for p in points):
        out["conditions"] = [p.get("condition") for p in points]
        out["undecided"] = sum(1 for p in points if p.get("outcome") == "undecided")
    return out
