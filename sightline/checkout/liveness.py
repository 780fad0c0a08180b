"""Passive presentation-attack detection for checkout, when the liveness models are installed.

Uses :class:`sightline.vision.liveness.PassiveLiveness` (MiniFASNet) if that module and its weights are
present; ``SIGHTLINE_CHECKOUT_PASSIVE=off`` turns it off, ``required`` refuses to run without it.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sightline.errors import ConfigError
from sightline.vision.faces.types import Face

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassiveResult:
    """Mean live score over the scored frames and whether every frame was judged live."""

    live: float
    is_live: bool
    model: str

    def to_dict(self) -> dict[str, object]:
        return {"live": round(self.live, 4), "is_live": self.is_live, "model": self.model}


class Passive:
    """Wraps the vision layer's passive detector (or nothing, when it is absent)."""

    def __init__(self) -> None:
        mode = os.environ.get("SIGHTLINE_CHECKOUT_PASSIVE", "auto").strip().lower()
        if mode not in ("auto", "off", "required"):
            raise ConfigError("SIGHTLINE_CHECKOUT_PASSIVE must be auto, off or required")
        self.mode = mode
        self._detector = None if mode == "off" else self._load()
        if mode == "required" and self._detector is None:
            raise ConfigError("SIGHTLINE_CHECKOUT_PASSIVE=required but the passive liveness model cannot be loaded")

    @staticmethod
    def _load():
        try:
            module = importlib.import_module("sightline.vision.liveness")
            cls = getattr(module, "PassiveLiveness", None)
            if cls is None:
                module = importlib.import_module("sightline.vision.liveness.passive")
                cls = module.PassiveLiveness
            return cls()
        except Exception as exc:  # noqa: BLE001 - optional signal: any failure means "not available"
            log.info("passive liveness not available for checkout: %s", exc)
            return None

    @property
    def available(self) -> bool:
        return self._detector is not None

    def score(self, images: Sequence[np.ndarray], faces: Sequence[Face]) -> PassiveResult | None:
        """Score each (image, face); None when no detector is loaded."""
        if self._detector is None:
            return None
        results = [self._detector.score(image, face) for image, face in zip(images, faces, strict=True)]
        return PassiveResult(float(np.mean([r.live for r in results])), all(bool(r.is_live) for r in results),
                             str(results[0].model))
