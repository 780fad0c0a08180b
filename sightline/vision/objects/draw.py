"""Draw object detections onto a copy of an image."""

from __future__ import annotations

import cv2
import numpy as np

from sightline.vision.objects.types import Detection


def _colour(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per class."""
    hue = (class_id * 47) % 180
    bgr = cv2.cvtColor(np.array([[[hue, 200, 230]]], dtype=np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_detections(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """Copy of ``image`` with each detection's box and "label score" drawn on it."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 600))
    for det in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in det.box)
        colour = _colour(det.class_id)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        cv2.putText(canvas, f"{det.label} {det.score:.2f}", (x1 + 2, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * thickness, colour, thickness, cv2.LINE_AA)
    return canvas
