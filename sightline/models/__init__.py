"""Model registry: which weight files Sightline uses, where they come from, and how to load them."""

from sightline.models.registry import REGISTRY, ModelSpec, get_spec
from sightline.models.store import ModelStore

__all__ = ["REGISTRY", "ModelSpec", "ModelStore", "get_spec"]
