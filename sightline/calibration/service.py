"""The open-set service: which operating point is in force (per camera, per condition, for the gallery size),
the decision for one face with it, and per-camera calibration runs (stored, audited with counts only).

It needs a session factory, the audit log and the face engine, never the gallery itself; the gallery's
matching service calls :meth:`OpenSetService.decide` with the candidates it found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from sightline.calibration.camera import CalibrationError, estimate
from sightline.calibration.cohort import Cohort, CohortError, cohort_path, load_cohort
from sightline.calibration.conditions import Condition, detect_condition
from sightline.calibration.decision import Decision, decide
from sightline.calibration.impostor import ImpostorCurve
from sightline.calibration.operating_point import OperatingPoint, derive, describe_rate, verification_floor
from sightline.calibration.policy import OpenSetPolicy, shipped_policy
from sightline.store import operating_points_repo as repo

MAX_TARGET = 0.1
MIN_TARGET = 1e-6
UNDECIDED_LIMIT = 1.01  # above any cosine similarity: a face too poor to decide can name nobody


def check_target(value: float) -> float:
    """A target FPIR the operator may ask for (between 1 in a million and 1 in 10)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not MIN_TARGET <= float(value) <= MAX_TARGET:
        raise CalibrationError(f"target FPIR must be between {MIN_TARGET} and {MAX_TARGET}, got {value!r}",
                               code="bad_target")
    return float(value)


class OpenSetService:
    """Operating points and decisions for one embedder over one store."""

    def __init__(self, sessions, audit, engine, *, actor: str = "sightline") -> None:
        self.sessions = sessions
        self.audit = audit
        self.engine = engine
        self.actor = actor
        self._cohort: Cohort | None = None
        self._cohort_checked = False
        self._policy: OpenSetPolicy | None = None
        self._policy_checked = False
        self._lock = threading.Lock()

    @property
    def embedder(self) -> str:
        return self.engine.spec.embedder

    def policy(self) -> OpenSetPolicy | None:
        """The shipped policy of this embedder (None when it was never calibrated: 1:N then falls back to 1:1).
        Read once: the file ships with the package, and this is asked for every face identified."""
        with self._lock:
            if not self._policy_checked:
                self._policy = shipped_policy(self.engine.spec.name, self.embedder)
                self._policy_checked = True
            return self._policy

    def cohort_paths(self) -> list[Path]:
        store = self.engine.store
        return [cohort_path(d, self.embedder) for d in (store.cache_dir, store.models_dir) if d is not None]

    def cohort(self) -> Cohort | None:
        """The installed cohort (loaded once; None when none is installed)."""
        with self._lock:
            if not self._cohort_checked:
                for path in self.cohort_paths():
                    if path.is_file():
                        self._cohort = load_cohort(path, self.embedder)
                        break
                self._cohort_checked = True
            return self._cohort

    def templates(self) -> int:
        with self.sessions() as session:
            return repo.count_templates(session, self.embedder)

    def operating_point(self, *, camera: str | None = None, condition: str | None = None,
                        comparisons: int | None = None) -> OperatingPoint | None:
        """The point in force for a face seen by ``camera`` under ``condition``, for the current gallery size.

        A calibrated camera uses its own measured curve (never laxer than the shipped colour point); otherwise
        the shipped point of the face's condition; a face whose condition is unknown (only an embedding was
        given) gets the strictest shipped point, so a grey night frame is never judged by the colour curve.
        """
        policy = self.policy()
        if policy is None:
            return None
        n = self.templates() if comparisons is None else comparisons
        kind = policy.kind_for(self.cohort() is not None)
        if camera is not None:
            with self.sessions() as session:
                stored = repo.get_point(session, camera, self.embedder)
            if stored is not None and stored.score_kind == kind:
                own = derive(ImpostorCurve.from_dict(stored.curve), stored.target_fpir, n,
                             condition=condition or "camera", score_kind=kind, source=f"camera:{camera}",
                             margin=policy.margins.get(kind, 0.0), scale=policy.gallery_scale,
                             exponent=policy.gallery_exponent)
                floor = policy.operating_point("colour", n, kind=kind, target_fpir=stored.target_fpir)
                return self._verification_floor(own if own.threshold >= floor.threshold else floor)
        if condition is None:
            usable = [c for c in policy.curves if c not in policy.refused]
            return self._verification_floor(max((policy.operating_point(c, n, kind=kind) for c in usable),
                                                key=lambda p: p.threshold))
        return self._verification_floor(policy.operating_point(condition, n, kind=kind))

    def _verification_floor(self, point: OperatingPoint) -> OperatingPoint:
        """The point, never laxer than this backend's 1:1 verification (:func:`verification_floor`)."""
        return verification_floor(point, float(self.engine.threshold))

    def raw_threshold(self, vector: np.ndarray, point: OperatingPoint) -> float:
        """The cosine similarity ``vector`` must reach under ``point`` (for cohort-z: cohort mean + z x std)."""
        if point.score_kind == "cosine":
            return float(point.threshold)
        cohort = self.cohort()
        if cohort is None:
            raise CohortError("a cohort-z operating point needs the cohort", code="cohort_missing")
        mean, std = cohort.stats(np.asarray(vector).reshape(1, -1))
        return float(mean[0] + point.threshold * std[0])

    def decide(self, vector: np.ndarray, candidates: Sequence[tuple[str, float]], *, camera: str | None = None,
               condition: Condition | None = None, comparisons: int | None = None) -> Decision | None:
        """The open-set decision for one face (None when no policy is shipped for this embedder)."""
        point = self.operating_point(camera=camera, condition=condition.name if condition else None,
                                     comparisons=comparisons)
        if point is None:
            return None
        policy = self.policy()
        refused = condition is not None and policy is not None and condition.name in policy.refused
        if refused:
            condition = Condition(condition.name, condition.grey, condition.lowres, True, condition.eye_px,
                                  f"condition {condition.name} cannot hold the target rate")
        cohort = self.cohort()
        normalise = (lambda scores: cohort.normalise(vector, scores)) if cohort is not None else None
        return decide(candidates, point, normalise=normalise, condition=condition)

    def limit_for(self, vector: np.ndarray | None, *, pixels: np.ndarray | None = None, face=None,
                  camera: str | None = None, comparisons: int | None = None) -> tuple[float, dict[str, object]] | None:
        """The cosine similarity a subject must reach for this face to be named, and the audit fields saying why.

        The matching service compares each candidate's raw score with it (so a subject's own threshold and
        negative examples still apply). A face too poor to decide gets a limit no score reaches and
        ``outcome: undecided`` (:data:`UNDECIDED_LIMIT`). None when no open-set policy is shipped for this
        backend (the 1:1 threshold applies then).
        """
        condition = detect_condition(pixels, face) if pixels is not None and face is not None else None
        point = self.operating_point(camera=camera, condition=condition.name if condition else None,
                                     comparisons=comparisons)
        if point is None or vector is None:
            return None
        policy = self.policy()
        audit: dict[str, object] = {"target_fpir": point.target_fpir, "operating_point": point.source,
                                    "score_kind": point.score_kind, "condition": point.condition,
                                    "open_set_threshold": round(point.threshold, 4), "templates": point.comparisons,
                                    "margin": self._raw_margin(vector, point)}
        if condition is not None and (condition.poor or (policy is not None and condition.name in policy.refused)):
            return UNDECIDED_LIMIT, audit | {"outcome": "undecided"}
        return self.raw_threshold(vector, point), audit

    def _raw_margin(self, vector: np.ndarray, point: OperatingPoint) -> float:
        """The point's best-vs-second-best margin in cosine units."""
        if point.score_kind == "cosine" or not point.margin:
            return float(point.margin)
        cohort = self.cohort()
        if cohort is None:
            return 0.0
        return float(point.margin * cohort.stats(np.asarray(vector).reshape(1, -1))[1][0])

    def calibrate_camera(self, camera: str, frames: Iterable[np.ndarray], *, target_fpir: float, actor: str,
                         min_faces: int = 20) -> dict[str, object]:
        """Measure ``camera``'s impostor curve on ``frames`` (faces in memory only), store it, audit counts."""
        target = check_target(target_fpir)
        policy = self.policy()
        cohort = self.cohort()
        if cohort is None:
            raise CohortError("per-camera calibration compares the camera's faces with the cohort, and none is "
                              "installed: run `sightline calibration build-cohort --lfw DIR` first",
                              code="cohort_missing")
        kind = policy.kind_for(True) if policy else "cohort-z"
        try:
            found = estimate(camera, frames, self.engine, cohort, score_kind=kind, min_faces=min_faces)
        except CalibrationError as exc:
            self.audit.record(actor=actor, action="camera_calibrate", outcome="failed",
                              details={"camera": camera, "target_fpir": target, "error": exc.code})
            raise
        n = self.templates()
        scale, exponent = (policy.gallery_scale, policy.gallery_exponent) if policy else (1.0, 1.0)
        point = derive(found.curve, target, n, condition="camera", score_kind=kind, source=f"camera:{camera}",
                       scale=scale, exponent=exponent)
        stored = repo.CameraPoint(camera, self.embedder, target, kind, found.curve.to_dict(), found.faces_used,
                                  found.curve.trials, repo.now(), actor)
        with self.sessions.begin() as session:
            repo.save_point(session, stored)
            self.audit.append(session, actor=actor, action="camera_calibrate", outcome="ok",
                              details=found.counts() | {"target_fpir": target, "threshold": round(point.threshold, 4),
                                                        "templates": n, "face_data_kept": False})
        return {"camera": camera, "target": describe_rate(target), **point.to_dict(), **found.counts(),
                "face_data_kept": False}

    def status(self) -> dict[str, object]:
        """What the API and UI show: the target rate and the threshold it implies, per condition and camera."""
        policy = self.policy()
        n = self.templates()
        cohort = self.cohort()
        out: dict[str, object] = {"embedder": self.embedder, "templates": n, "cohort": None, "open_set": False}
        if cohort is not None:
            out["cohort"] = {"faces": int(cohort.vectors.shape[0]), "sha256": cohort.sha256, "source": cohort.source}
        with self.sessions() as session:
            cameras = repo.all_points(session)
        out["cameras"] = [p.to_dict() | {"target": describe_rate(p.target_fpir), **self._camera_threshold(p, n, policy)}
                          for p in cameras if p.embedder == self.embedder]
        if policy is None:
            return out
        kind = policy.kind_for(cohort is not None)
        out.update({"open_set": True, "target_fpir": policy.target_fpir, "target": describe_rate(policy.target_fpir),
                    "score_kind": kind, "refused_conditions": list(policy.refused),
                    "conditions": {c: policy.operating_point(c, n, kind=kind).to_dict() for c in policy.curves}})
        return out

    @staticmethod
    def _camera_threshold(point: repo.CameraPoint, n: int, policy: OpenSetPolicy | None) -> dict[str, object]:
        curve = ImpostorCurve.from_dict(point.curve)
        scale, exponent = (policy.gallery_scale, policy.gallery_exponent) if policy else (1.0, 1.0)
        return {"threshold": round(derive(curve, point.target_fpir, n, condition="camera", score_kind=point.score_kind,
                                          source="camera", scale=scale, exponent=exponent).threshold, 4)}
