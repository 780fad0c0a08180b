"""Draw plate reads on a copy of an image (boxes, text and confidence)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np


def draw_plates(image: np.ndarray, plates: Sequence[Mapping]) -> np.ndarray:
    """A copy of ``image`` with every plate (``PlateRead.to_dict()`` shape) boxed: green read, red unreadable."""
    out = image.copy()
    thickness = max(2, round(max(out.shape[:2]) / 600))
    for plate in plates:
        x1, y1, x2, y2 = (int(round(v)) for v in plate["box"])
        readable = plate.get("text") is not None
        colour = (0, 200, 0) if readable else (0, 0, 230)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        label = f"{plate['text']} {plate['confidence']:.2f}" if readable else "unreadable"
        cv2.putText(out, label, (x1, max(0, y1 - 2 * thickness)), cv2.FONT_HERSHEY_SIMPLEX, max(0.5, thickness / 3),
                    colour, thickness)
    return out
