"""Verification thresholds per backend, calibrated on the dev split by ``bench/calibrate.py``.

Similarity is the cosine of two L2-normalised embeddings. Each threshold is
the midpoint between the highest impostor and the lowest genuine similarity on
the dev split (16 photos of 6 people in ../shared/data/faces-small: 25 genuine
and 95 impostor pairs), or the equal-error point where the two overlap. With so
few pairs the dev false-accept rate of 0 bounds the true FAR only loosely (rule
of three: below 3/95 = 3.2 % at 95 % confidence); see README for test-split figures.

For the dlib ResNet the raw descriptors have norms of about 1.4-1.6, so dlib's
published Euclidean threshold of 0.6 corresponds to a cosine of about 0.92 —
the same operating point this calibration found independently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Threshold:
    """An operating point and the evidence behind it."""

    value: float
    dev_genuine_pairs: int
    dev_impostor_pairs: int
    dev_far: float
    dev_frr: float


THRESHOLDS: dict[str, Threshold] = {
    "yunet-dlib": Threshold(0.915, 25, 95, 0.0, 0.0),
    "dlib": Threshold(0.911, 25, 95, 0.0, 0.0),
    "yunet-faceres": Threshold(0.565, 25, 95, 0.042, 0.040),
}


def threshold_for(backend: str) -> Threshold:
    """The calibrated threshold of ``backend``."""
    return THRESHOLDS[backend]
