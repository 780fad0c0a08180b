"""Face embedders: aligned face in, L2-normalised float32 template out."""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from sightline.vision.faces.align import ARCFACE_TEMPLATE_112, align_face, similarity_transform
from sightline.vision.faces.types import Face


class FaceEmbedder(Protocol):
    """Turns detected faces into fixed-length, L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Embeddings of ``faces`` in ``image`` (uint8 BGR), shape (len(faces), dim)."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class DlibResnetEmbedder:
    """dlib's 128-D ResNet (LFW 99.38 % as published) on dlib's own 150x150 face chips.

    The chip is dlib's similarity-transform alignment driven by its 5-point
    shape predictor, which was trained on dlib HOG boxes. With
    ``box_from_landmarks`` (a box in ArcFace-template coordinates) the shape
    predictor runs on that box placed by the face's five landmarks, i.e. a
    HOG-like box whatever the detector, instead of on the detector's own box.
    """

    name = "dlib-resnet"
    dim = 128

    def __init__(self, resnet_path: str, shape_predictor_path: str, *,
                 box_from_landmarks: tuple[float, float, float, float] | None = None) -> None:
        import dlib

        self._net = dlib.face_recognition_model_v1(str(resnet_path))
        self._shape_predictor = dlib.shape_predictor(str(shape_predictor_path))
        self.box_from_landmarks = box_from_landmarks
        self._lock = threading.Lock()

    def predictor_box(self, face: Face) -> tuple[float, float, float, float]:
        """The box the shape predictor runs on: the detector's, or the template box placed by the landmarks."""
        if self.box_from_landmarks is None or face.landmarks is None:
            return face.box
        matrix = similarity_transform(ARCFACE_TEMPLATE_112, face.landmarks)
        x1, y1, x2, y2 = self.box_from_landmarks
        centre = matrix[:, :2] @ np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0]) + matrix[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        half_w, half_h = scale * (x2 - x1) / 2.0, scale * (y2 - y1) / 2.0
        return (centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h)

    def chips(self, image: np.ndarray, faces: list[Face]) -> list[np.ndarray]:
        """dlib-aligned 150x150 RGB chips for ``faces``."""
        import dlib

        rgb = np.ascontiguousarray(image[:, :, ::-1])
        shapes = dlib.full_object_detections()
        for face in faces:
            x1, y1, x2, y2 = self.predictor_box(face)
            rect = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
            shapes.append(self._shape_predictor(rgb, rect))
        return list(dlib.get_face_chips(rgb, shapes, size=150, padding=0.25))

    def embed(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            chips = self.chips(image, faces)
            descriptors = self._net.compute_face_descriptor(chips)
        return l2_normalise(np.array([np.asarray(d) for d in descriptors]))


class FaceResEmbedder:
    """The Human project's FaceRes descriptor (1024-D) on ArcFace-aligned 224x224 crops.

    Input is raw 0-255 RGB, as measured on the sample faces (0-1 or ±1 inputs
    collapse its output). Its age/gender heads are never read.
    """

    name = "faceres"
    dim = 1024

    def __init__(self, session) -> None:
        # ``session``: an onnxruntime session opened by ``sightline.models`` (with spinning off, so idle
        # worker threads do not steal the next stage's CPU on a small box).
        self._session = session
        self._input = self._session.get_inputs()[0].name
        self._output = "global_pooling/Mean:0"
        outputs = {o.name for o in self._session.get_outputs()}
        if self._output not in outputs:
            self._output = next(name for name in outputs if "global_pooling" in name)

    def embed(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        crops = [align_face(image, face.landmarks, 224)[:, :, ::-1] for face in faces]
        batch = np.stack(crops).astype(np.float32)
        (features,) = self._session.run([self._output], {self._input: batch})
        return l2_normalise(features.reshape(len(faces), -1))
