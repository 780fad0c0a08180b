"""Named object-detector backends and how ``auto`` picks one.

``auto`` takes the first backend in :data:`PREFERENCE` whose model file is
present. The order comes from ``bench/objects_speed.py`` and the sample-photo
checks in ``tests/test_objects.py``: NanoDet found every expected object on
the sample photos with higher scores than CenterNet and runs slightly faster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sightline.errors import ConfigError, ModelError
from sightline.models.store import ModelStore
from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.centernet import CenterNetDetector
from sightline.vision.objects.nanodet import NanoDetDetector


@dataclass(frozen=True)
class ObjectBackend:
    """A detector class and the registered model it loads."""

    name: str
    model: str
    cls: type[OnnxObjectDetector]
    description: str


BACKENDS: dict[str, ObjectBackend] = {
    b.name: b
    for b in (
        ObjectBackend("nanodet", "nanodet", NanoDetDetector, "NanoDet-m 416 px (ONNX): default"),
        ObjectBackend("centernet", "centernet", CenterNetDetector, "CenterNet MobileNetV3 512 px (ONNX)"),
    )
}

PREFERENCE = ("nanodet", "centernet")


def resolve_object_backend(name: str = "auto", store: ModelStore | None = None) -> ObjectBackend:
    """The backend called ``name``; for ``auto`` the first preferred one whose model file exists."""
    if name != "auto":
        if name not in BACKENDS:
            raise ConfigError(f"unknown object backend {name!r}; choose auto, {', '.join(BACKENDS)}",
                              code="unknown_backend")
        return BACKENDS[name]
    store = store or ModelStore()
    for candidate in PREFERENCE:
        if store.available(BACKENDS[candidate].model):
            return BACKENDS[candidate]
    raise ModelError(
        "no object detection model found (looked for " + ", ".join(BACKENDS[c].model for c in PREFERENCE)
        + f" in {', '.join(str(d) for d in store.search_dirs()) or '(SIGHTLINE_MODELS is not set)'}); "
        "point SIGHTLINE_MODELS at the folder that holds human/nanodet.onnx or human/centernet.onnx",
        code="model_missing",
    )


def build_object_detector(name: str = "auto", *, store: ModelStore | None = None, min_score: float | None = None,
                          classes: Iterable[str] | str | None = None, nms_threshold: float = 0.5,
                          max_detections: int = 100, threads: int | None = None,
                          class_agnostic: bool = False) -> OnnxObjectDetector:
    """Create the object detector ``name`` (``auto``, ``nanodet`` or ``centernet``) with a verified model file.

    ``threads`` sets onnxruntime's ``intra_op_num_threads`` (None: one per core).
    """
    store = store or ModelStore()
    backend = resolve_object_backend(name, store)
    return backend.cls(store.path(backend.model), min_score=min_score, classes=classes,
                       nms_threshold=nms_threshold, max_detections=max_detections, threads=threads,
                       class_agnostic=class_agnostic)
