"""FaceEngine (detect, embed, verify faces) and ObjectDetector (COCO objects): the objects most users need."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sightline.errors import NoFaceError, SightlineError
from sightline.models.store import ModelStore
from sightline.models.zoo import FaceBackend, Runtime, build_component, build_object_detector, resolve_backend
from sightline.vision.faces.detectors import FaceDetector
from sightline.vision.faces.embedders import FaceEmbedder
from sightline.vision.faces.quality import assess_quality
from sightline.vision.faces.thresholds import threshold_for
from sightline.vision.faces.types import Face
from sightline.vision.image_io import ColorOrder, ImageInput, load_image
from sightline.vision.objects.types import Detection


@dataclass
class VerifyResult:
    """Outcome of a 1:1 comparison."""

    similarity: float
    same_person: bool
    threshold: float
    backend: str
    face_a: Face | None = None
    face_b: Face | None = None

    def to_dict(self) -> dict[str, object]:
        """Stable JSON shape for ``faces verify --json`` and the API."""
        return {
            "similarity": round(self.similarity, 4),
            "same_person": self.same_person,
            "threshold": self.threshold,
            "backend": self.backend,
            "face_a": self.face_a.to_dict() if self.face_a else None,
            "face_b": self.face_b.to_dict() if self.face_b else None,
        }


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (1 = identical direction)."""
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    if a.shape != b.shape:
        raise SightlineError(f"embeddings differ in size ({a.size} vs {b.size}): made by different backends?",
                             code="embedding_mismatch")
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b)) or 1e-12
    return float(np.dot(a, b) / denominator)


class FaceEngine:
    """Detect, align, embed and verify faces with one backend.

    Images may be a path, encoded bytes, or a numpy array; arrays are BGR
    (OpenCV order) unless ``color="rgb"`` is passed to the call. Models load
    once, on first use, and are shared by all threads using this engine.
    """

    def __init__(self, backend: str = "auto", *, models_dir: str | None = None, threshold: float | None = None,
                 providers: Iterable[str] | str | None = None, threads: int | None = None) -> None:
        """``threads``: onnxruntime threads per model (None: one per core; a camera actor given one CPU uses 1)."""
        self.store = ModelStore(models_dir)
        self.runtime = Runtime(self.store, providers=providers, threads=threads)
        self.spec: FaceBackend = resolve_backend(backend, self.store)
        self._threshold = threshold
        self._parts: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return self.spec.name

    @property
    def threshold(self) -> float:
        """Similarity at or above which two faces are judged the same person."""
        if self._threshold is not None:
            return self._threshold
        return threshold_for(self.spec.name).value

    @property
    def embedding_dim(self) -> int:
        return self.embedder.dim

    @property
    def detector(self) -> FaceDetector:
        """The backend's face detector, built (and hash-checked) on first use."""
        return self._part("detector")  # type: ignore[return-value]

    @property
    def embedder(self) -> FaceEmbedder:
        """The backend's face embedder, built (and hash-checked) on first use."""
        return self._part("embedder")  # type: ignore[return-value]

    def _part(self, role: str) -> object:
        if role not in self._parts:
            with self._lock:
                if role not in self._parts:
                    self._parts[role] = build_component(getattr(self.spec, role), self.runtime)
        return self._parts[role]

    def load(self) -> FaceEngine:
        """Load (and hash-check) every model now instead of on first use."""
        _ = self.detector, self.embedder
        return self

    def detect(self, image: ImageInput, *, embed: bool = False, color: ColorOrder = "bgr") -> list[Face]:
        """All faces in ``image`` with box, landmarks, score and quality; embeddings if ``embed``."""
        pixels = load_image(image, color=color)
        return self.detect_array(pixels, embed=embed)

    def detect_array(self, pixels: np.ndarray, *, embed: bool = False) -> list[Face]:
        """Like :meth:`detect` on an already-decoded uint8 BGR array."""
        faces = self.detector.detect(pixels)
        for face in faces:
            face.quality = assess_quality(pixels, face)
        if embed and faces:
            for face, vector in zip(faces, self.embedder.embed(pixels, faces), strict=True):
                face.embedding = vector
        return faces

    def embed(self, image: ImageInput, *, color: ColorOrder = "bgr") -> np.ndarray:
        """Embedding of the main face (largest box) in ``image``; raises :class:`NoFaceError` if none."""
        return self.main_face(image, color=color).embedding  # type: ignore[return-value]

    def main_face(self, image: ImageInput, *, color: ColorOrder = "bgr") -> Face:
        """The largest face in ``image``, embedded."""
        pixels = load_image(image, color=color)
        faces = self.detector.detect(pixels)
        if not faces:
            raise NoFaceError(f"no face found in {_describe(image)}")
        face = max(faces, key=lambda f: f.width * f.height)
        face.quality = assess_quality(pixels, face)
        face.embedding = self.embedder.embed(pixels, [face])[0]
        return face

    def verify(self, a: ImageInput, b: ImageInput, *, threshold: float | None = None) -> VerifyResult:
        """Compare the main faces of two images (or two embeddings given as 1-D arrays)."""
        face_a = None if _is_embedding(a) else self.main_face(a)
        face_b = None if _is_embedding(b) else self.main_face(b)
        vector_a = a if face_a is None else face_a.embedding
        vector_b = b if face_b is None else face_b.embedding
        similarity = cosine_similarity(vector_a, vector_b)  # type: ignore[arg-type]
        limit = self.threshold if threshold is None else threshold
        return VerifyResult(similarity, similarity >= limit, limit, self.backend, face_a, face_b)


def _is_embedding(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == 1


def _describe(image: object) -> str:
    return str(image) if isinstance(image, str) or hasattr(image, "__fspath__") else "the image"


class ObjectDetector:
    """Find the 80 COCO object classes; the object counterpart of :class:`FaceEngine`.

    ``backend`` is ``auto`` (YOLOX-Nano, else NanoDet, else CenterNet: the first whose file is present),
    ``yolox``, ``nanodet`` or ``centernet``. Images may be a path, encoded bytes or an array (BGR
    unless ``color="rgb"``).
    The model loads (and is hash-checked) when the detector is created.
    """

    def __init__(self, backend: str = "auto", *, models_dir: str | None = None,
                 classes: Iterable[str] | str | None = None, min_score: float | None = None,
                 nms_threshold: float = 0.5, max_detections: int = 100, class_agnostic: bool = False,
                 threads: int | None = None, providers: Iterable[str] | str | None = None) -> None:
        self._detector = build_object_detector(
            backend, store=ModelStore(models_dir), min_score=min_score, classes=classes,
            nms_threshold=nms_threshold, max_detections=max_detections, class_agnostic=class_agnostic,
            threads=threads, providers=providers)

    @property
    def name(self) -> str:
        """The backend in use (``yolox``, ``nanodet`` or ``centernet``)."""
        return self._detector.name

    @property
    def min_score(self) -> float:
        return self._detector.min_score

    def detect(self, image: ImageInput, *, color: ColorOrder = "bgr") -> list[Detection]:
        """Objects in ``image``, boxes in its pixel coordinates, best score first."""
        return self._detector.detect(load_image(image, color=color))
