"""YOLOX-Nano COCO detector (Megvii, Apache-2.0), exported to ONNX with a raw (undecoded) head.

Input ``images`` [1, 3, 416, 416]: **BGR** pixels 0-255 as float, not normalised, letterboxed to
the **top-left** corner of a canvas filled with 114 (how YOLOX trains and evaluates). Output
``output`` [1, 3549, 85]: one row per anchor point over strides 8, 16, 32 (grids 52², 26², 13²,
row-major), ``(x, y, w, h, objectness, 80 class probabilities)``, already through a sigmoid for the
scores. Decoding: centre = (p_xy + cell) * stride, size = exp(p_wh) * stride, score = obj * cls.
"""

from __future__ import annotations

import numpy as np

from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.geometry import InputTransform, letterbox

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
PAD_VALUE = 114
_MAX_CANDIDATES = 3000


def anchor_grid(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) cell x, y and (N, 1) stride of every output row, in the model's row order."""
    cells, steps = [], []
    for stride in strides:
        grid = size // stride
        ys, xs = np.divmod(np.arange(grid * grid), grid)
        cells.append(np.column_stack([xs, ys]))
        steps.append(np.full((grid * grid, 1), stride))
    return np.vstack(cells).astype(np.float32), np.vstack(steps).astype(np.float32)


def decode(raw: np.ndarray, cells: np.ndarray, strides: np.ndarray, min_score: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw rows (N, 85) -> boxes x1,y1,x2,y2 in input pixels, scores and class ids of every (row, class)
    pair scoring at least ``min_score`` (a row may yield several classes, as in COCO evaluation)."""
    scores = raw[:, 4:5] * raw[:, 5:]
    rows, labels = np.nonzero(scores >= min_score)
    picked = scores[rows, labels]
    if picked.size > _MAX_CANDIDATES:
        top = np.argsort(-picked)[:_MAX_CANDIDATES]
        rows, labels, picked = rows[top], labels[top], picked[top]
    centre = (raw[rows, :2] + cells[rows]) * strides[rows]
    half = np.exp(np.minimum(raw[rows, 2:4], 10.0)) * strides[rows] / 2
    return np.hstack([centre - half, centre + half]), picked, labels


class YoloxDetector(OnnxObjectDetector):
    """YOLOX-Nano (80 COCO classes, 416 x 416 top-left letterboxed input)."""

    name = "yolox"
    default_min_score = 0.3

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._input = self.session.get_inputs()[0].name
        self._cells, self._strides = anchor_grid()

    def input_tensor(self, image: np.ndarray) -> tuple[np.ndarray, InputTransform]:
        """The network input for BGR ``image`` (1, 3, 416, 416) and how its pixels were placed."""
        canvas, transform = letterbox(image, INPUT_SIZE, PAD_VALUE, centre=False)
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), transform

    def _candidates(self, image: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tensor, transform = self.input_tensor(image)
        raw = self.session.run(None, {self._input: tensor})[0][0]
        boxes, scores, labels = decode(raw, self._cells, self._strides, min_score)
        return transform.to_original(boxes.astype(np.float64)), scores.astype(np.float64), labels.astype(np.int64)
