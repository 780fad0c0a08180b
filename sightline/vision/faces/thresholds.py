"""Verification (1:1) thresholds per backend, calibrated by ``bench/calibrate.py``.

Similarity is the cosine of two L2-normalised embeddings. yunet-dlib's threshold is the one that
maximises accuracy on LFW view 1 (``pairsDevTrain.txt``: 1,100 genuine + 1,100 impostor pairs,
deep-funneled images); dev FAR/FRR below are view-1 rates. On view 2 (``pairs.txt``, 6,000 pairs,
not used for choosing) it gives FAR 0.90 %, FRR 1.77 %, accuracy 98.67 % ± 0.51 over the 10 folds
(README, "Verification thresholds"). dlib and yunet-faceres keep their earlier faces-small dev-split
values (16 photos of 6 people: 25 genuine, 95 impostor pairs; midpoint between highest impostor and
lowest genuine, or the equal-error point): they have not been recalibrated on LFW yet.

These are 1:1 operating points only. 1:N identification uses the open-set operating points of
``sightline.calibration`` (a target stranger rate, the gallery size and the face's condition).

For the dlib ResNet the raw descriptors have norms of about 1.4-1.6, so dlib's
published Euclidean threshold of 0.6 corresponds to a cosine of about 0.92.
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
    "yunet-dlib": Threshold(0.909, 1100, 1100, 0.0100, 0.0191),
    "dlib": Threshold(0.911, 25, 95, 0.0, 0.0),
    "yunet-faceres": Threshold(0.565, 25, 95, 0.042, 0.040),
    # Calibrated on LFW view 1 (pairsDevTrain: 1,100 genuine + 1,100 impostor pairs; the threshold that
    # maximises accuracy there; dev FAR/FRR are view-1 rates) by ``bench/lfw_views.py --choose``.
    "yunet-mobileface": Threshold(0.2391, 1100, 1100, 0.0091, 0.0200),
    "yunet-frfeature": Threshold(0.3060, 1100, 1100, 0.0009, 0.0136),
    "yunet-insightface": Threshold(0.2537, 1100, 1100, 0.0055, 0.0073),
    # fused backends: cosine of the fused templates (FusedEmbedder.fused_score maps it to the z-score sum)
    "yunet-fused": Threshold(0.8176, 1100, 1100, 0.0045, 0.0100),
    "yunet-fused-insightface": Threshold(0.8019, 1100, 1100, 0.0027, 0.0055),
}


def threshold_for(backend: str) -> Threshold:
    """The calibrated threshold of ``backend``."""
    return THRESHOLDS[backend]
