"""Runtime settings resolved from environment variables.

Only a handful of knobs live here; each has a safe default so that
``sightline`` works on a fresh machine without a config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_IMAGE_PIXELS = 50_000_000  # 50 MP: larger images are refused (decompression bombs)
DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_DECODE_BYTES = 512 * 1024 * 1024  # decoded pixels plus the BGR copy, per image


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def default_models_dir() -> Path | None:
    """Directory named by ``SIGHTLINE_MODELS``, or None when unset."""
    return _env_path("SIGHTLINE_MODELS")


def default_providers() -> list[str]:
    """onnxruntime execution providers from ``SIGHTLINE_PROVIDERS`` (comma-separated), default the CPU."""
    value = os.environ.get("SIGHTLINE_PROVIDERS", "").strip()
    return [p.strip() for p in value.split(",") if p.strip()] or ["cpu"]


def default_model_variant() -> str | None:
    """``SIGHTLINE_MODEL_VARIANT`` (e.g. ``int8``): use that variant of a model wherever one is registered."""
    return os.environ.get("SIGHTLINE_MODEL_VARIANT", "").strip() or None


def default_data_dir() -> Path:
    """Where Sightline keeps its database, keys and media (``SIGHTLINE_HOME``)."""
    return _env_path("SIGHTLINE_HOME") or Path.home() / ".sightline"


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds applied before any pixel is decoded."""

    max_pixels: int = field(
        default_factory=lambda: int(os.environ.get("SIGHTLINE_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS))
    )
    max_bytes: int = field(
        default_factory=lambda: int(os.environ.get("SIGHTLINE_MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES))
    )
    # peak memory of one decode (bytes per stored pixel included), estimated from the header
    max_decode_bytes: int = field(
        default_factory=lambda: int(os.environ.get("SIGHTLINE_MAX_DECODE_BYTES") or DEFAULT_MAX_DECODE_BYTES)
    )
