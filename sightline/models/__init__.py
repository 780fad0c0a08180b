"""Model registry: which weight files Sightline uses, where they come from, and how to load them.

``REGISTRY`` holds every model file (task, sha256, licence, provenance, input, accuracy);
:mod:`sightline.models.zoo` builds runnable components and backends from them.
"""

from __future__ import annotations

from typing import Any

from sightline.models.registry import REGISTRY, BackendRegistry, Registry, get_spec
from sightline.models.spec import InputSpec, ModelSpec, Provenance, Task
from sightline.models.store import ModelStore

_ZOO = {"COMPONENTS", "FACE_BACKENDS", "OBJECT_DETECTORS", "Component", "FaceBackend", "Runtime",
        "build_component", "build_object_detector", "resolve_backend", "resolve_object_backend"}

__all__ = ["REGISTRY", "BackendRegistry", "InputSpec", "ModelSpec", "ModelStore", "Provenance", "Registry",
           "Task", "get_spec", *sorted(_ZOO)]


def __getattr__(name: str) -> Any:
    """The zoo (which imports the vision classes and OpenCV) loads only when first asked for."""
    if name in _ZOO:
        from sightline.models import zoo

        return getattr(zoo, name)
    raise AttributeError(f"module 'sightline.models' has no attribute {name!r}")
