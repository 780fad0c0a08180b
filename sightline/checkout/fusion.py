"""Several frames into one match decision at the checkout operating point.

The checkout point is stricter than door-style verification: a false accept spends someone else's money.
For every measured embedder the cosine thresholds below are impostor quantiles on LFW **view 1** (every
cross-identity pair of the pairsDevTrain people's images, 10.6 M pairs; ``python bench/checkout.py``
prints them and reports them on view 2). 1:1 against a claimed subject uses FAR 1e-4 (the FIDO anchor);
1:N among enrolled payers divides that FAR by the number of payer templates compared (so the chance that
*some* payer is falsely matched stays near 1e-4) and asks the best payer to beat the second by
:data:`MARGIN_1N`. Other embedders fall back to their calibrated verification threshold plus
:data:`FALLBACK_RAISE`.

Fusion: the embeddings of the most frontal frames are averaged and re-normalised, and that one vector is
compared with the subject's templates (best template counts). Averaging lifts impostor scores too (view 1,
dlib ResNet: three photos at the one-photo threshold gave FAR 3.4e-4), so a fused decision's threshold is
raised by :data:`FUSION_RAISE`, the shift that brings view 1's three-photo impostor attempts back to FAR
1e-4. Each fused frame must also match on its own at :data:`FRAME_FAR`, so one good frame cannot carry
frames of someone else (a bar at 1e-3 tripled yunet-dlib's FRR on view 2; 1e-2 costs 1.8 points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FAR_1_1 = 1e-4
# Per embedder: (FAR, cosine) knots, LFW view 1 impostor quantiles over every cross-identity pair of the
# pairsDevTrain people's images (10.6 M pairs), and the fusion raise (view-1 three-photo threshold at FAR 1e-4
# minus the one-photo one). Printed by `python bench/checkout.py` ("Shipped operating points").
KNOTS = {
    "dlib-resnet": ((1e-2, 0.9075), (1e-3, 0.9266), (1e-4, 0.9414), (1e-5, 0.9531), (1e-6, 0.9607)),
    "fused-dlib-mobileface": ((1e-2, 0.8087), (1e-3, 0.8375), (1e-4, 0.8598), (1e-5, 0.8782), (1e-6, 0.8970)),
    "mobileface-v2": ((1e-2, 0.2575), (1e-3, 0.3656), (1e-4, 0.4506), (1e-5, 0.5174), (1e-6, 0.5796)),
    "frfeature": ((1e-2, 0.2508), (1e-3, 0.3428), (1e-4, 0.4176), (1e-5, 0.4786), (1e-6, 0.5401)),
    "insightface-mobilefacenet": ((1e-2, 0.2347), (1e-3, 0.3197), (1e-4, 0.3951), (1e-5, 0.4621), (1e-6, 0.5606)),
    "fused-dlib-insightface": ((1e-2, 0.7857), (1e-3, 0.8141), (1e-4, 0.8369), (1e-5, 0.8570), (1e-6, 0.8852)),
}
FUSION_RAISE = {"dlib-resnet": 0.0063, "fused-dlib-mobileface": 0.0204, "mobileface-v2": 0.0269,
                "frfeature": 0.0238, "insightface-mobilefacenet": 0.0209, "fused-dlib-insightface": 0.0196}
FALLBACK_RAISE = 0.03  # embedders measured nowhere: their calibrated verification threshold plus this
MARGIN_1N = 0.02
FRAME_FAR = 1e-2  # every fused frame must reach the single-frame threshold of this FAR


def threshold_at(embedder: str, far: float, calibrated: float, frames: int = 1) -> float:
    """Cosine threshold for a per-comparison false-accept rate ``far`` (log-linear between knots, clamped), for a
    decision fusing ``frames`` frames."""
    knots = KNOTS.get(embedder)
    raise_by = FUSION_RAISE.get(embedder, FALLBACK_RAISE) if frames > 1 else 0.0
    if knots is None:
        return calibrated + FALLBACK_RAISE + raise_by
    logs = [math.log10(f) for f, _ in knots]
    values = [t for _, t in knots]
    x = math.log10(max(far, 1e-12))
    # np.interp wants increasing x: knots are by decreasing FAR
    return float(np.interp(x, logs[::-1], values[::-1])) + raise_by


def threshold_1n(embedder: str, templates: int, calibrated: float, frames: int = 1) -> float:
    """The 1:N threshold for ``templates`` payer templates: FAR 1e-4 shared out over every comparison."""
    return threshold_at(embedder, FAR_1_1 / max(1, templates), calibrated, frames)


def fuse(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of unit embeddings, re-normalised."""
    stacked = np.vstack([np.asarray(v, dtype=np.float32) for v in vectors])
    mean = stacked.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class Match:
    """The fused score of one subject and whether it clears the threshold."""

    subject_id: str
    similarity: float
    frame_min: float
    threshold: float
    frame_threshold: float

    @property
    def accepted(self) -> bool:
        return self.similarity >= self.threshold and self.frame_min >= self.frame_threshold


def frame_threshold(embedder: str, calibrated: float, templates: int = 1) -> float:
    """What each fused frame must reach on its own: the single-frame threshold at :data:`FRAME_FAR` (shared out
    over ``templates`` comparisons for 1:N)."""
    return threshold_at(embedder, FRAME_FAR / max(1, templates), calibrated)


def score(templates: np.ndarray, frames: Sequence[np.ndarray], subject_id: str, threshold: float,
          frame_bar: float) -> Match:
    """Fused similarity of ``frames`` to the best of ``templates`` (rows), and the weakest single frame."""
    fused = fuse(frames)
    similarity = float(np.max(templates @ fused))
    per_frame = [float(np.max(templates @ np.asarray(v, dtype=np.float32))) for v in frames]
    return Match(subject_id, similarity, min(per_frame), threshold, frame_bar)
