"""Operating points for open-set identification, stated as a target false-positive identification rate.

FPIR is the chance that a stranger (somebody not enrolled) is named as somebody enrolled. A
stranger is compared with every enrolled template, so with ``N`` templates and a per-comparison
false-match rate ``FMR(t)`` the rate is ``FPIR(t, N) = 1 - (1 - FMR(t)) ** N`` (comparisons taken
as independent). The identification threshold is therefore re-derived from the target whenever the
gallery grows, and is not the 1:1 verification threshold, which keeps its own value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sightline.calibration.impostor import ImpostorCurve


def fmr_for_fpir(target_fpir: float, comparisons: float) -> float:
    """The per-comparison false-match rate that gives ``target_fpir`` over ``comparisons`` templates."""
    if not 0.0 < target_fpir < 1.0:
        raise ValueError(f"a target rate must be in (0, 1), got {target_fpir}")
    n = max(1.0, float(comparisons))
    return -math.expm1(math.log1p(-target_fpir) / n)


def fpir_at(curve: ImpostorCurve, threshold: float, comparisons: int) -> float:
    """Expected FPIR at ``threshold`` with ``comparisons`` templates enrolled."""
    fmr = curve.fmr(threshold)
    return -math.expm1(max(1, int(comparisons)) * math.log1p(-min(fmr, 1.0 - 1e-12)))


def describe_rate(rate: float) -> str:
    """``0.001`` -> ``"1 in 1,000 strangers"``."""
    if not 0.0 < rate < 1.0:
        raise ValueError(f"a rate must be in (0, 1), got {rate}")
    return f"1 in {round(1.0 / rate):,} strangers"


@dataclass(frozen=True)
class OperatingPoint:
    """The decision rule in force: target stranger rate, the threshold it implies and what it was derived from."""

    target_fpir: float
    threshold: float  # on the score the rule compares (``score_kind``)
    comparisons: int  # enrolled templates the threshold was derived for
    condition: str  # image condition ("colour", "grey", "lowres", ...)
    score_kind: str  # "cosine" or "cohort-z"
    source: str  # "shipped" (LFW view 1) or "camera:<name>"
    margin: float = 0.0  # best subject must beat the second-best by this (same units as the score)

    def to_dict(self) -> dict[str, object]:
        return {"target_fpir": self.target_fpir, "target": describe_rate(self.target_fpir),
                "threshold": round(self.threshold, 4), "comparisons": self.comparisons,
                "condition": self.condition, "score_kind": self.score_kind, "source": self.source,
                "margin": round(self.margin, 4)}


def effective_comparisons(comparisons: int, scale: float = 1.0, exponent: float = 1.0) -> float:
    """Independent comparisons that ``comparisons`` templates amount to: ``scale * N ** exponent``.

    A stranger's scores against many templates are correlated (the same face is compared each time),
    so the chance that the best of N passes grows more slowly than N independent trials would; the
    scale and exponent are measured on LFW view 1 (``bench/open_set.py``). (1, 1) is the independent model.
    """
    return max(1.0, scale * max(1, int(comparisons)) ** exponent)


def derive(curve: ImpostorCurve, target_fpir: float, comparisons: int, *, condition: str, score_kind: str,
           source: str, margin: float = 0.0, scale: float = 1.0, exponent: float = 1.0) -> OperatingPoint:
    """The operating point that holds ``target_fpir`` with ``comparisons`` templates enrolled."""
    threshold = curve.threshold_for(fmr_for_fpir(target_fpir, effective_comparisons(comparisons, scale, exponent)))
    return OperatingPoint(target_fpir, threshold, max(1, int(comparisons)), condition, score_kind, source, margin)


def verification_floor(point: OperatingPoint, verification: float) -> OperatingPoint:
    """Naming someone never takes less than verifying a claim: a cosine point is raised to the backend's 1:1
    threshold ``verification`` when it is below it (a gallery of a few templates and a 1 % target would otherwise
    allow a laxer score than 1:1 does). The server and ``bench/open_set.py`` both apply this rule."""
    if point.score_kind != "cosine" or point.threshold >= verification:
        return point
    return replace(point, threshold=float(verification), source=f"{point.source}; 1:1 verification floor")
