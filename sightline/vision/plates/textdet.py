"""PP-OCR's text detector (DB, the file the ``rapidocr`` wheel ships) as a plate finder of last resort.

LPD-YuNet was trained on Chinese plates and misses some European and US ones outright; a text detector
finds the plate's characters as a text line whatever the plate looks like. It also finds every other
text (slogans, signs), so the reader keeps a text box only when its read fits a plate format.
Input: BGR scaled to [-1, 1], sides multiples of 32, NCHW; output: a text probability map of the
input's size, binarised, each connected region's box grown by DB's unclip distance.
"""

from __future__ import annotations

import cv2
import numpy as np

from sightline.vision.plates.lpd_yunet import PlateCandidate

MIN_ASPECT, MAX_ASPECT = 1.5, 12.0  # plate text lines are wide: one line of 4-8 characters


class TextDetector:
    """Runs PP-OCR's detector with an onnxruntime session; boxes come back in the image's pixels."""

    def __init__(self, session, *, max_side: int = 960, threshold: float = 0.3, box_threshold: float = 0.5,
                 unclip: float = 1.6) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.max_side = int(max_side)
        self.threshold = float(threshold)
        self.box_threshold = float(box_threshold)
        self.unclip = float(unclip)

    def detect(self, image_bgr: np.ndarray) -> list[PlateCandidate]:
        """Text lines shaped like a plate's, best score first."""
        height, width = image_bgr.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        new_h = max(32, int(round(height * scale / 32)) * 32)
        new_w = max(32, int(round(width * scale / 32)) * 32)
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
        blob = (resized.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        prob = self.session.run(None, {self.input_name: blob})[0][0, 0]
        mask = cv2.dilate((prob > self.threshold).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = width / new_w, height / new_h
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if min(w, h) < 4:
                continue
            region = prob[y:y + h, x:x + w]
            inside = mask[y:y + h, x:x + w] > 0
            score = float(region[inside].mean()) if inside.any() else 0.0
            if score < self.box_threshold:
                continue
            perimeter = cv2.arcLength(contour, True)
            grow = cv2.contourArea(contour) * self.unclip / perimeter if perimeter > 0 else 0.0
            x1, y1 = max(0.0, (x - grow) * sx), max(0.0, (y - grow) * sy)
            x2, y2 = min(float(width), (x + w + grow) * sx), min(float(height), (y + h + grow) * sy)
            aspect = (x2 - x1) / max(y2 - y1, 1e-6)
            if MIN_ASPECT <= aspect <= MAX_ASPECT:
                found.append(PlateCandidate(box=(x1, y1, x2, y2), score=score, source="text"))
        return sorted(found, key=lambda c: -c.score)
