"""COCO object detection: ``build_object_detector(...).detect(bgr) -> list[Detection]``."""

from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.centernet import CenterNetDetector
from sightline.vision.objects.factory import BACKENDS, PREFERENCE, build_object_detector, resolve_object_backend
from sightline.vision.objects.labels import COCO_LABELS, class_ids
from sightline.vision.objects.nanodet import NanoDetDetector
from sightline.vision.objects.types import Detection, ObjectDetector

__all__ = [
    "BACKENDS",
    "COCO_LABELS",
    "PREFERENCE",
    "CenterNetDetector",
    "Detection",
    "NanoDetDetector",
    "ObjectDetector",
    "OnnxObjectDetector",
    "build_object_detector",
    "class_ids",
    "resolve_object_backend",
]
