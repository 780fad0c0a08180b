"""Sightline: consent-first face and object recognition.

The public Python API: :class:`FaceEngine` (detect, embed, verify faces), :class:`ObjectDetector`
(COCO objects) and :class:`Gallery` (enrolment and 1:N identification, imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sightline.engine import FaceEngine, ObjectDetector, VerifyResult
from sightline.errors import SightlineError

if TYPE_CHECKING:
    from sightline.gallery.gallery import Gallery

__version__ = "0.1.0"
__all__ = ["FaceEngine", "Gallery", "ObjectDetector", "SightlineError", "VerifyResult", "__version__"]


def __getattr__(name: str) -> Any:
    """``Gallery`` (database, index, keys) is imported only when first used; the erasure and retention hooks
    the server and CLI install are installed for library users too, so an erasure also clears the event
    history and a retention sweep also covers the plate store."""
    if name == "Gallery":
        from sightline.gallery.gallery import Gallery
        from sightline.jobs.hooks import install_hooks

        install_hooks()
        return Gallery
    raise AttributeError(f"module 'sightline' has no attribute {name!r}")
