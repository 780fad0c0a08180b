"""Verification thresholds per embedder, calibrated on the dev split (``bench/calibrate.py``).

Similarity is the cosine of two L2-normalised embeddings. Each threshold is
the midpoint between the highest impostor and the lowest genuine similarity
on the dev split, so the dev false-accept rate is 0 of ``impostor_pairs``; with
so few pairs that bounds the true FAR only loosely (rule of three: < 3/n at 95 %).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Threshold:
    """An operating point and the evidence behind it."""

    value: float
    genuine_pairs: int
    impostor_pairs: int
    dev_far: float
    dev_frr: float
    source: str


THRESHOLDS: dict[str, Threshold] = {
    "dlib-resnet": Threshold(0.92, 0, 0, 0.0, 0.0, "placeholder until calibrated"),
    "faceres": Threshold(0.58, 0, 0, 0.0, 0.0, "placeholder until calibrated"),
}


def threshold_for(embedder: str) -> Threshold:
    """The calibrated threshold of ``embedder``."""
    return THRESHOLDS[embedder]
