"""NanoDet-m COCO detector (GFL head) from the Human project, converted to ONNX.

Found by testing on the sample photos (``bench/objects_speed.py`` and the
tests): the converted model takes **BGR** pixels normalised with NanoDet's
mean/std, NCHW, 416 x 416. The picture is letterboxed (aspect kept, centred,
padded with the mean colour, i.e. zeros after normalisation): a plain stretch
squeezed 16:9 video frames so that walking people lost most of their score
(tests/test_objects_letterbox.py). Outputs per stride 8/16/32 (52², 26², 13² cells, row-major):
class scores already through a sigmoid [1, N, 80], and box distributions
[1, N, 44] = 4 sides (left, top, right, bottom) x 11 bins. Each side's
distance is the softmax expectation over bins times the stride, measured from
the cell centre ``(col + 0.5, row + 0.5) * stride``.
"""

from __future__ import annotations

import numpy as np

from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.geometry import InputTransform, letterbox

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
PAD_VALUE = 114  # ~ the mean colour: close to zero once normalised
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
_MAX_CANDIDATES = 2000


class NanoDetDetector(OnnxObjectDetector):
    """NanoDet-m (80 COCO classes, 416 x 416 input)."""

    name = "nanodet"
    default_min_score = 0.3

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._input = self.session.get_inputs()[0].name
        self._outputs = [o.name for o in self.session.get_outputs()]
        self._centres = {s: _cell_centres(INPUT_SIZE // s, s) for s in STRIDES}

    def input_tensor(self, image: np.ndarray) -> tuple[np.ndarray, InputTransform]:
        """The network input for BGR ``image`` (1, 3, 416, 416) and how its pixels were placed."""
        resized, transform = letterbox(image, INPUT_SIZE, PAD_VALUE)
        tensor = ((resized.astype(np.float32) - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None]
        return np.ascontiguousarray(tensor), transform

    def _candidates(self, image: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tensor, transform = self.input_tensor(image)
        outputs = self.session.run(self._outputs, {self._input: tensor})
        by_shape = {(o.shape[1], o.shape[2]): o[0] for o in outputs}
        all_boxes, all_scores, all_labels = [], [], []
        for stride in STRIDES:
            cells = (INPUT_SIZE // stride) ** 2
            scores, dists = by_shape[(cells, 80)], by_shape[(cells, 4 * BINS)]
            rows, labels = np.nonzero(scores >= min_score)
            if rows.size == 0:
                continue
            distance = _expected_distance(dists[rows]) * stride
            centre = self._centres[stride][rows]
            all_boxes.append(np.hstack([centre - distance[:, :2], centre + distance[:, 2:]]))
            all_scores.append(scores[rows, labels])
            all_labels.append(labels)
        if not all_scores:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
        boxes, scores, labels = np.vstack(all_boxes), np.concatenate(all_scores), np.concatenate(all_labels)
        if scores.size > _MAX_CANDIDATES:
            top = np.argsort(-scores)[:_MAX_CANDIDATES]
            boxes, scores, labels = boxes[top], scores[top], labels[top]
        return transform.to_original(boxes.astype(np.float64)), scores.astype(np.float64), labels.astype(np.int64)


def _cell_centres(grid: int, stride: int) -> np.ndarray:
    """(grid², 2) x, y centres of a row-major grid of cells, in input pixels."""
    ys, xs = np.divmod(np.arange(grid * grid), grid)
    return np.column_stack([(xs + 0.5) * stride, (ys + 0.5) * stride]).astype(np.float32)


def _expected_distance(logits: np.ndarray) -> np.ndarray:
    """(N, 44) bin logits -> (N, 4) expected distances in strides (softmax over each side's 11 bins)."""
    logits = logits.reshape(-1, 4, BINS)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return weights @ np.arange(BINS, dtype=np.float32)
