"""Sightline: consent-first face and object recognition."""

from sightline.engine import FaceEngine, VerifyResult
from sightline.errors import SightlineError

__version__ = "0.1.0"
__all__ = ["FaceEngine", "SightlineError", "VerifyResult", "__version__"]
