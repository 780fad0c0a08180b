"""LPD-YuNet licence-plate detector (OpenCV Zoo, Apache-2.0): priors, decoding and NMS.

The network takes the whole image resized to 320x240 (BGR, 0-255, NCHW, no
normalisation) and predicts, for each of 4385 priors, a score and the four
plate corners as offsets from the prior centre scaled by 0.1 x the prior size.
Boxes come back in pixels of the original image.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import cv2
import numpy as np

INPUT_W, INPUT_H = 320, 240
MIN_SIZES = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
STEPS = (8, 16, 32, 64)
VARIANCE = 0.1


@dataclass(frozen=True)
class PlateCandidate:
    """A plate region: axis-aligned box (x1, y1, x2, y2), its 4 corners and a score, in original pixels."""

    box: tuple[float, float, float, float]
    score: float
    corners: tuple[tuple[float, float], ...] = ()
    source: str = "lpd"


def make_priors(width: int = INPUT_W, height: int = INPUT_H) -> np.ndarray:
    """Prior boxes (cx, cy, w, h), normalised to the input size, in the network's output order."""
    h2, w2 = (height + 1) // 2 // 2, (width + 1) // 2 // 2
    maps = []
    fh, fw = h2, w2
    for _ in range(4):
        fh, fw = fh // 2, fw // 2
        maps.append((fh, fw))
    priors = []
    for (fh, fw), sizes, step in zip(maps, MIN_SIZES, STEPS, strict=True):
        for i, j in product(range(fh), range(fw)):
            for size in sizes:
                priors.append(((j + 0.5) * step / width, (i + 0.5) * step / height, size / width, size / height))
    return np.asarray(priors, dtype=np.float32)


class LpdYunet:
    """Runs LPD-YuNet with an onnxruntime session (see :func:`sightline.models.onnx.create_session`)."""

    def __init__(self, session, *, min_score: float = 0.5, nms_threshold: float = 0.3, top_k: int = 20) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()]
        self.priors = make_priors()
        self.min_score = float(min_score)
        self.nms_threshold = float(nms_threshold)
        self.top_k = int(top_k)

    def detect(self, image_bgr: np.ndarray) -> list[PlateCandidate]:
        """Plates in ``image_bgr`` (uint8 BGR), best score first."""
        height, width = image_bgr.shape[:2]
        resized = cv2.resize(image_bgr, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
        blob = resized.transpose(2, 0, 1)[None].astype(np.float32)
        outputs = dict(zip(self.output_names, self.session.run(self.output_names, {self.input_name: blob}),
                           strict=True))
        loc, conf, iou = outputs["loc"], outputs["conf"], outputs["iou"]
        scores = np.sqrt(conf[:, 1] * np.clip(iou[:, 0], 0.0, 1.0))
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        priors, loc, scores = self.priors[keep], loc[keep], scores[keep]
        corners = np.stack([priors[:, :2] + loc[:, c:c + 2] * VARIANCE * priors[:, 2:] for c in (4, 6, 10, 12)],
                           axis=1) * np.array([width, height], dtype=np.float32)
        x1y1, x2y2 = corners.min(axis=1), corners.max(axis=1)
        xywh = np.column_stack([x1y1, x2y2 - x1y1])
        picked = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(float).tolist(), self.min_score, self.nms_threshold,
                                  top_k=self.top_k)
        order = sorted(np.asarray(picked, dtype=int).ravel().tolist(), key=lambda i: -scores[i])
        return [PlateCandidate(box=(float(x1y1[i, 0]), float(x1y1[i, 1]), float(x2y2[i, 0]), float(x2y2[i, 1])),
                               score=float(scores[i]),
                               corners=tuple((float(x), float(y)) for x, y in corners[i]))
                for i in order]
