"""Plain data types shared by face detectors, embedders and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sightline.vision.boxes import BoxSize


@dataclass
class FaceQuality:
    """How usable a face is for recognition; every component is in [0, 1] (1 = best)."""

    score: float
    size: float
    sharpness: float
    pose: float
    face_pixels: float  # shorter side of the box in pixels
    yaw: float  # signed: nose offset from the eye midpoint, in inter-ocular distances
    roll_degrees: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


@dataclass
class Face(BoxSize):
    """One detected face in image coordinates (pixels of the original image).

    ``box`` is (x1, y1, x2, y2). ``landmarks`` is a (5, 2) array of (x, y):
    the eye on the viewer's left, the eye on the viewer's right, the nose tip,
    the mouth corner on the viewer's left, the one on the viewer's right (the
    order YuNet, RetinaFace and ArcFace's template use). ``embedding`` is a float32,
    L2-normalised vector once the face has been embedded.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    quality: FaceQuality | None = None
    embedding: np.ndarray | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def to_dict(self, *, include_embedding: bool = False) -> dict[str, object]:
        """Stable JSON shape used by the CLI's ``--json`` and the REST API."""
        out: dict[str, object] = {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "quality": self.quality.to_dict() if self.quality else None,
        }
        if include_embedding and self.embedding is not None:
            out["embedding"] = [round(float(v), 6) for v in self.embedding]
        return out
