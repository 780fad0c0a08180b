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


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def default_models_dir() -> Path | None:
    """Directory named by ``SIGHTLINE_MODELS``, or None when unset."""
    return _env_path("SIGHTLINE_MODELS")


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
