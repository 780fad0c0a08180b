"""CenterNet (MobileNetV3) COCO detector from the Human project, converted to ONNX.

Input: RGB, 0-255 (not normalised), 512 x 512, NHWC. The image is letterboxed
(aspect kept, centred on black): on the sample photos this found every
expected object at score >= 0.3, where a plain stretch missed the two people
in the wide ``zidane.jpg``. The model's own head already decodes the heatmap
into 100 boxes (x1, y1, x2, y2 in input pixels, score, class id).
"""

from __future__ import annotations

import numpy as np

from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.geometry import letterbox

INPUT_SIZE = 512
_INPUT = "tower_0/images:0"
_OUTPUT = "tower_0/detections"


class CenterNetDetector(OnnxObjectDetector):
    """CenterNet MobileNetV3 (80 COCO classes, 512 x 512 letterboxed input)."""

    name = "centernet"
    default_min_score = 0.3

    def _candidates(self, image: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        canvas, transform = letterbox(image[:, :, ::-1], INPUT_SIZE)
        tensor = canvas.astype(np.float32)[None]
        rows = self.session.run([_OUTPUT], {_INPUT: tensor})[0][0]
        rows = rows[rows[:, 4] >= min_score]
        boxes = transform.to_original(rows[:, :4].astype(np.float64))
        return boxes, rows[:, 4].astype(np.float64), rows[:, 5].astype(np.int64)
