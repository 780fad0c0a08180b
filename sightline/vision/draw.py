"""Draw detection results onto images (annotated output, the web UI's previews)."""

from __future__ import annotations

import cv2
import numpy as np

from sightline.vision.faces.types import Face

_GREEN = (80, 200, 80)
_LANDMARK_COLOURS = ((255, 0, 0), (0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 165, 255))


def draw_faces(image: np.ndarray, faces: list[Face], labels: list[str] | None = None) -> np.ndarray:
    """Copy of ``image`` with each face's box, landmarks and an optional label drawn on it."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 600))
    for index, face in enumerate(faces):
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _GREEN, thickness)
        for (x, y), colour in zip(face.landmarks, _LANDMARK_COLOURS, strict=True):
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, colour, -1)
        text = labels[index] if labels else f"{face.score:.2f}"
        cv2.putText(canvas, text, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thickness, _GREEN,
                    thickness, cv2.LINE_AA)
    return canvas
