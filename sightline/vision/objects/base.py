"""Shared machinery of the ONNX object detectors: session, input checks, filtering and NMS."""

from __future__ import annotations

import cv2
import numpy as np

from sightline.errors import ImageError
from sightline.vision.image_io import load_image
from sightline.vision.objects.config import DetectorConfig
from sightline.vision.objects.labels import COCO_LABELS
from sightline.vision.objects.types import Detection


def as_bgr(image: np.ndarray) -> np.ndarray:
    """``image`` as contiguous uint8 BGR (H, W, 3); anything else goes through :func:`load_image`."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ImageError("array image has no pixels", code="empty_image")
        return np.ascontiguousarray(image)
    return load_image(image)


class OnnxObjectDetector:
    """Base class: subclasses implement :meth:`_candidates`; this class filters, suppresses and labels.

    ``session`` is an opened onnxruntime session (``sightline.models`` opens and verifies it);
    ``config`` holds the typed options (score, classes, NMS, cap), see :class:`DetectorConfig`.
    """

    name = "onnx"
    default_min_score = 0.3

    def __init__(self, session, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.min_score = self.default_min_score if self.config.min_score is None else float(self.config.min_score)
        self.class_filter = self.config.class_filter
        self.nms_threshold = float(self.config.nms_threshold)
        self.max_detections = int(self.config.max_detections)
        self.class_agnostic = bool(self.config.class_agnostic)
        self.session = session

    def _candidates(self, image: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) x1,y1,x2,y2 in original pixels, scores (N,), class ids (N,) above ``min_score``."""
        raise NotImplementedError

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Objects in ``image_bgr`` (uint8 BGR), boxes in its pixel coordinates, best score first."""
        image = as_bgr(image_bgr)
        boxes, scores, labels = self._candidates(image, self.min_score)
        keep = scores >= self.min_score
        if self.class_filter is not None:
            keep &= np.isin(labels, list(self.class_filter))
        keep &= (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        if len(scores) == 0:
            return []
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        groups = np.zeros_like(labels) if self.class_agnostic else labels
        picked = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.astype(float).tolist(), groups.astype(int).tolist(),
                                         self.min_score, self.nms_threshold)
        order = sorted(np.asarray(picked, dtype=int).ravel().tolist(), key=lambda i: -scores[i])
        return [
            Detection(box=tuple(float(v) for v in boxes[i]), score=float(scores[i]), class_id=int(labels[i]),
                      label=COCO_LABELS[int(labels[i])])
            for i in order[: self.max_detections]
        ]
