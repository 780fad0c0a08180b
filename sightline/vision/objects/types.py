"""What an object detector returns, and the interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from sightline.vision.boxes import BoxSize


@dataclass(frozen=True)
class Detection(BoxSize):
    """One detected object; ``box`` is (x1, y1, x2, y2) in pixels of the original image."""

    box: tuple[float, float, float, float]
    score: float
    class_id: int
    label: str

    def to_dict(self) -> dict[str, object]:
        """Stable JSON shape used by the CLI's ``--json`` and the API."""
        return {
            "label": self.label,
            "class_id": int(self.class_id),
            "score": round(float(self.score), 4),
            "box": [round(float(v), 1) for v in self.box],
        }


@runtime_checkable
class ObjectDetector(Protocol):
    """Finds COCO objects in a BGR image."""

    name: str

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Objects in ``image_bgr`` (uint8 BGR, H x W x 3), best score first."""
        ...
