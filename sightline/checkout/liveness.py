"""The vision layer's liveness primitives, as checkout uses them.

- **Passive presentation-attack detection**: MiniFASNet (:func:`sightline.models.liveness.build_passive_liveness`,
  Apache-2.0 weights) on the fused frames; the attempt counts as live when their mean ``live`` score reaches
  the model's threshold. ``SIGHTLINE_CHECKOUT_PASSIVE=off`` turns it off, ``required`` refuses to start without
  it (``auto``, the default, uses it when its weights are installed); ``SIGHTLINE_CHECKOUT_PASSIVE_MODEL``
  picks the model (the CelebA-Spoof one is opt-in: non-commercial data terms).
- **Eye aspect ratio** for blinks: FacePlugin's 68-point landmarks (:func:`build_landmarks68`), else dlib's
  68-point predictor when that model is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sightline.errors import ConfigError, SightlineError
from sightline.vision.faces.types import Face

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassiveResult:
    """Mean live score over the scored frames and whether it reaches the model's threshold."""

    live: float
    is_live: bool
    model: str
    frames: list[float]

    def to_dict(self) -> dict[str, object]:
        return {"live": round(self.live, 4), "is_live": self.is_live, "model": self.model,
                "frames": [round(v, 4) for v in self.frames]}


class Passive:
    """Passive liveness when its model is installed (or nothing, when it is absent or turned off)."""

    def __init__(self) -> None:
        mode = os.environ.get("SIGHTLINE_CHECKOUT_PASSIVE", "auto").strip().lower()
        if mode not in ("auto", "off", "required"):
            raise ConfigError("SIGHTLINE_CHECKOUT_PASSIVE must be auto, off or required")
        self.mode = mode
        self.model = os.environ.get("SIGHTLINE_CHECKOUT_PASSIVE_MODEL", "minifasnet").strip()
        self._detector = None if mode == "off" else self._load()
        if mode == "required" and self._detector is None:
            raise ConfigError("SIGHTLINE_CHECKOUT_PASSIVE=required but the passive liveness model cannot be loaded")

    def _load(self):
        from sightline.models.liveness import build_passive_liveness

        try:
            return build_passive_liveness(self.model)
        except SightlineError as exc:
            log.warning("passive liveness not available for checkout: %s", exc.message)
            return None

    @property
    def available(self) -> bool:
        return self._detector is not None

    def score(self, images: Sequence[np.ndarray], faces: Sequence[Face]) -> PassiveResult | None:
        """Score each (image, face); None when no detector is loaded."""
        if self._detector is None:
            return None
        results = [self._detector.score(image, face) for image, face in zip(images, faces, strict=True)]
        live = float(np.mean([r.live for r in results]))
        return PassiveResult(live, live >= self._detector.threshold, self._detector.model, [r.live for r in results])


def eye_aspect_ratio_source() -> Callable[[np.ndarray, Face], float]:
    """``ear(image, face)``: FacePlugin's 68 landmarks when installed, else dlib's 68-point predictor."""
    from sightline.models.liveness import build_landmarks68

    try:
        landmarks = build_landmarks68()
        return landmarks.eye_aspect_ratio
    except SightlineError as exc:
        from sightline.checkout.motion import eye_aspect_ratio

        log.warning("fr_landmark not available (%s): blinks are read with dlib's 68 points", exc.message)
        return lambda image, face: eye_aspect_ratio(image, face.box)
