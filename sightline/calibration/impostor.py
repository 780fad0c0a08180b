"""The impostor score distribution as a compact, monotone false-match-rate curve with an exponential tail.

A curve is a list of (threshold, log10 FMR) knots taken from measured impostor scores
(one comparison of a probe with one template of somebody else = one trial). Between knots
log10 FMR is interpolated linearly; beyond the last measured knot it is extrapolated with the
slope of the last decade (an exponential tail), which is what lets a threshold be derived for a
per-comparison rate smaller than the measurement could observe directly (large galleries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_EXCEEDANCES = 10  # a knot needs at least this many impostor scores above it to be "measured"
KNOT_STEP = 0.25  # knots every quarter decade of FMR


@dataclass(frozen=True)
class ImpostorCurve:
    """FMR(t) for one (backend, condition, score kind)."""

    thresholds: tuple[float, ...]  # increasing
    log10_fmr: tuple[float, ...]  # decreasing, same length
    trials: int
    tail_slope: float  # d log10 FMR / d threshold beyond the last knot (negative)

    @classmethod
    def fit(cls, scores: np.ndarray) -> ImpostorCurve:
        """Fit the curve to measured impostor scores (needs at least a few hundred)."""
        values = np.sort(np.asarray(scores, dtype=np.float64).ravel())[::-1]
        n = int(values.size)
        if n < 100:
            raise ValueError(f"an impostor curve needs at least 100 scores, got {n}")
        lowest = math.log10(MIN_EXCEEDANCES / n)
        levels = np.arange(-0.5, lowest - 1e-9, -KNOT_STEP)
        if levels.size < 2:
            levels = np.array([-0.5, lowest])
        knots_t, knots_f = [], []
        for level in levels:
            k = max(1, int(round(n * 10.0 ** level)))
            t = float(values[k - 1])  # k scores are >= t
            if knots_t and t <= knots_t[-1]:
                continue
            knots_t.append(t)
            knots_f.append(float(math.log10(float((values >= t).sum()) / n)))
        tail = _tail_slope(knots_t, knots_f)
        return cls(tuple(knots_t), tuple(knots_f), n, tail)

    def fmr(self, threshold: float) -> float:
        """Per-comparison false-match rate at ``threshold`` (scores >= threshold match)."""
        t, f = np.array(self.thresholds), np.array(self.log10_fmr)
        if threshold <= t[0]:
            return float(min(1.0, 10.0 ** f[0]))
        if threshold >= t[-1]:
            return float(10.0 ** (f[-1] + self.tail_slope * (threshold - t[-1])))
        return float(10.0 ** np.interp(threshold, t, f))

    def threshold_for(self, fmr: float) -> float:
        """The lowest threshold whose per-comparison false-match rate is at most ``fmr``."""
        if not 0.0 < fmr < 1.0:
            raise ValueError(f"a false-match rate must be in (0, 1), got {fmr}")
        t, f = np.array(self.thresholds), np.array(self.log10_fmr)
        level = math.log10(fmr)
        if level >= f[0]:
            return float(t[0])
        if level <= f[-1]:
            return float(t[-1] + (level - f[-1]) / self.tail_slope)
        return float(np.interp(-level, -f, t))

    def to_dict(self) -> dict[str, object]:
        return {"thresholds": [round(x, 5) for x in self.thresholds],
                "log10_fmr": [round(x, 4) for x in self.log10_fmr],
                "trials": self.trials, "tail_slope": round(self.tail_slope, 3)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ImpostorCurve:
        return cls(tuple(float(x) for x in data["thresholds"]),  # type: ignore[union-attr]
                   tuple(float(x) for x in data["log10_fmr"]),  # type: ignore[union-attr]
                   int(data["trials"]), float(data["tail_slope"]))  # type: ignore[arg-type]


def _tail_slope(t: list[float], f: list[float]) -> float:
    """Least-squares slope of log10 FMR against threshold over the last measured decade."""
    last = [i for i in range(len(f)) if f[i] <= f[-1] + 1.0]
    if len(last) < 2:
        last = list(range(max(0, len(f) - 2), len(f)))
    slope = float(np.polyfit(np.array(t)[last], np.array(f)[last], 1)[0]) if len(last) >= 2 else -50.0
    return min(slope, -1.0)  # never flat or rising: more strictness must always mean fewer false matches


def identity_upper_bound(curve: ImpostorCurve, scores: np.ndarray, impostor: np.ndarray, groups: np.ndarray, *,
                         quantile: float = 0.95, draws: int = 400, seed: int = 0) -> ImpostorCurve:
    """``curve`` with each knot's false-match rate raised to its ``quantile`` over a bootstrap of probe identities.

    False matches cluster by person (a few faces resemble many others), so a rate measured on one set of
    people is uncertain far beyond what the trial count suggests; another population's rate at the same
    threshold lands anywhere in that spread. Holding a target "at most" therefore uses the upper bound:
    ``scores`` is probes x templates, ``impostor`` marks the impostor trials, ``groups`` the probe's person.
    """
    people, inverse = np.unique(np.asarray(groups), return_inverse=True)
    trials = np.bincount(inverse, weights=impostor.sum(axis=1), minlength=len(people))
    weights = np.random.default_rng(seed).multinomial(len(people), np.full(len(people), 1.0 / len(people)),
                                                      size=draws).astype(np.float64)
    denominator = weights @ trials
    raised = []
    for t, level in zip(curve.thresholds, curve.log10_fmr, strict=True):
        exceed = np.bincount(inverse, weights=((scores >= t) & impostor).sum(axis=1), minlength=len(people))
        upper = float(np.quantile((weights @ exceed) / np.maximum(denominator, 1.0), quantile))
        raised.append(max(level, math.log10(max(upper, 1e-300))))
    raised = list(np.minimum.accumulate(raised))  # still decreasing with the threshold
    return ImpostorCurve(curve.thresholds, tuple(float(x) for x in raised), curve.trials,
                         _tail_slope(list(curve.thresholds), raised))
