"""Licence plates: LPD-YuNet detection, PP-OCR recognition, format rules; pure functions over numpy images."""

from sightline.vision.plates.formats import FORMATS, REGIONS, FormattedRead, apply_format, normalise
from sightline.vision.plates.lpd_yunet import LpdYunet, PlateCandidate
from sightline.vision.plates.ocr import PlateRecognizer, TextRead
from sightline.vision.plates.reader import VEHICLE_CLASSES, PlateRead, PlateReader

__all__ = ["FORMATS", "REGIONS", "VEHICLE_CLASSES", "FormattedRead", "LpdYunet", "PlateCandidate", "PlateRead",
           "PlateReader", "PlateRecognizer", "TextRead", "apply_format", "normalise"]
