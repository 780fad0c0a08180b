"""The open-set decision for one face: name the best subject, call the face unknown, or refuse to decide.

Pure: it takes the probe's best score per subject (best first), the operating point in force and,
optionally, a normaliser (cohort z-scores) and the face's condition. It never looks at the gallery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sightline.calibration.conditions import Condition
from sightline.calibration.operating_point import OperatingPoint

MATCH, UNKNOWN, UNDECIDED = "match", "unknown", "undecided"


@dataclass(frozen=True)
class Decision:
    """What to say about one face, and why."""

    outcome: str  # "match" | "unknown" | "undecided"
    subject_id: str | None
    score: float | None  # raw cosine similarity of the best subject
    decision_score: float | None  # the score compared with the threshold (cosine or cohort z)
    point: OperatingPoint
    reason: str = ""

    def to_audit(self) -> dict[str, object]:
        """Fields for the audit row of the identification (no biometric data)."""
        return {"outcome": self.outcome, "target_fpir": self.point.target_fpir,
                "threshold": round(self.point.threshold, 4), "score_kind": self.point.score_kind,
                "condition": self.point.condition, "operating_point": self.point.source,
                "decision_score": None if self.decision_score is None else round(self.decision_score, 4),
                "reason": self.reason}


def decide(candidates: Sequence[tuple[str, float]], point: OperatingPoint, *,
           normalise: Callable[[np.ndarray], np.ndarray] | None = None,
           condition: Condition | None = None) -> Decision:
    """Decide for one face; ``normalise`` maps raw scores to the point's score kind (needed for cohort-z)."""
    if condition is not None and condition.poor:
        return Decision(UNDECIDED, None, None, None, point, f"too poor to decide: {condition.reason}")
    if not candidates:
        return Decision(UNKNOWN, None, None, None, point, "nobody enrolled")
    raw = np.array([score for _, score in candidates], dtype=np.float64)
    if point.score_kind == "cosine":
        scores = raw
    elif normalise is None:
        raise ValueError(f"a {point.score_kind} operating point needs a normaliser (cohort)")
    else:
        scores = np.asarray(normalise(raw), dtype=np.float64)
    best = float(scores[0])
    subject = candidates[0][0]
    if best < point.threshold:
        return Decision(UNKNOWN, None, float(raw[0]), best, point, "below threshold")
    if point.margin > 0 and len(scores) > 1 and best - float(scores[1]) < point.margin:
        return Decision(UNDECIDED, None, float(raw[0]), best, point,
                        f"best and second-best subjects within the margin {point.margin:.3f}")
    return Decision(MATCH, subject, float(raw[0]), best, point)
