"""COCO object detection: ``detector.detect(bgr) -> list[Detection]`` (built by ``sightline.models``)."""

from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.centernet import CenterNetDetector
from sightline.vision.objects.config import DetectorConfig
from sightline.vision.objects.labels import COCO_LABELS, class_ids
from sightline.vision.objects.nanodet import NanoDetDetector
from sightline.vision.objects.types import Detection, ObjectDetector

__all__ = [
    "COCO_LABELS",
    "CenterNetDetector",
    "Detection",
    "DetectorConfig",
    "NanoDetDetector",
    "ObjectDetector",
    "OnnxObjectDetector",
    "class_ids",
]
