"""Named detector + embedder combinations and how the default is chosen.

A backend is a pairing of one :class:`FaceDetector` with one
:class:`FaceEmbedder`, plus the similarity threshold calibrated for that
embedder. ``auto`` picks the first backend in :data:`PREFERENCE` whose model
files are all present; the order is the one measured in ``bench/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sightline.errors import ConfigError, ModelError
from sightline.models.store import ModelStore
from sightline.vision.faces.detectors import FaceDetector, HogDetector, YuNetDetector
from sightline.vision.faces.embedders import DlibResnetEmbedder, FaceEmbedder, FaceResEmbedder


@dataclass(frozen=True)
class BackendSpec:
    """A detector/embedder pairing and the model files it needs."""

    name: str
    detector: str
    embedder: str
    models: tuple[str, ...]
    description: str


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec(
            name="yunet-dlib",
            detector="yunet",
            embedder="dlib-resnet",
            models=("yunet", "dlib-shape5", "dlib-resnet-v1"),
            description="YuNet detector (ONNX) + dlib ResNet embedder: fastest, most faces found",
        ),
        BackendSpec(
            name="dlib",
            detector="hog",
            embedder="dlib-resnet",
            models=("dlib-shape5", "dlib-resnet-v1"),
            description="dlib HOG detector + ResNet embedder: zero-download (pip packages only)",
        ),
        BackendSpec(
            name="yunet-faceres",
            detector="yunet",
            embedder="faceres",
            models=("yunet", "faceres"),
            description="YuNet + Human FaceRes 1024-D: experimental, weaker separation (see README)",
        ),
    )
}

PREFERENCE = ("yunet-dlib", "dlib")

_DETECTOR_FACTORIES: dict[str, Callable[[ModelStore], FaceDetector]] = {
    "yunet": lambda store: YuNetDetector(str(store.path("yunet"))),
    "hog": lambda store: HogDetector(str(store.path("dlib-shape5"))),
}

_EMBEDDER_FACTORIES: dict[str, Callable[[ModelStore], FaceEmbedder]] = {
    "dlib-resnet": lambda store: DlibResnetEmbedder(str(store.path("dlib-resnet-v1")), str(store.path("dlib-shape5"))),
    "faceres": lambda store: FaceResEmbedder(str(store.path("faceres"))),
}


def resolve_backend(name: str, store: ModelStore) -> BackendSpec:
    """The backend called ``name``, or for ``auto`` the most preferred one whose files exist."""
    if name == "auto":
        for candidate in PREFERENCE:
            spec = BACKENDS[candidate]
            if all(store.available(model) for model in spec.models):
                return spec
        raise ModelError(
            "no face backend has its model files: install face_recognition_models "
            "(pip) or set SIGHTLINE_MODELS to a folder holding the models",
            code="model_missing",
        )
    try:
        return BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown face backend {name!r}; choose one of: auto, {', '.join(BACKENDS)}") from None


def build_detector(name: str, store: ModelStore) -> FaceDetector:
    """Instantiate the detector called ``name`` (models verified by hash)."""
    return _DETECTOR_FACTORIES[name](store)


def build_embedder(name: str, store: ModelStore) -> FaceEmbedder:
    """Instantiate the embedder called ``name`` (models verified by hash)."""
    return _EMBEDDER_FACTORIES[name](store)
