"""Face detection, alignment, quality and embedding."""

from sightline.vision.faces.types import Face, FaceQuality

__all__ = ["Face", "FaceQuality"]
