"""Embedder settings chosen on LFW view 1 (``pairsDevTrain.txt``) by ``bench/lfw.py --choose``; view 2 never.

``FLIP``: embedders whose flip test-time augmentation raised view-1 accuracy/TAR.
``DLIB_BOX_FROM_LANDMARKS``: the HOG-like box (ArcFace-template coordinates) dlib's shape predictor
runs on, placed by the detector's landmarks (``bench/dlib_box.py``); None: the detector's own box.
``FUSIONS``: per fused embedder, each part's weight and view-1 impostor cosine mean/std (z-norm).
"""

from __future__ import annotations

from sightline.vision.faces.onnx_embedders import FusionPart

# mobileface-v2 view 1: accuracy 98.50 -> 98.55 %, TAR @ FAR 1e-2 97.7 -> 98.1 % with flip TTA.
FLIP: dict[str, bool] = {"mobileface-v2": True}

DLIB_BOX_FIT: tuple[float, float, float, float] = (6.5, 25.7, 97.7, 115.7)  # bench/dlib_box.py, 296 faces
DLIB_BOX_FROM_LANDMARKS: tuple[float, float, float, float] | None = None  # DLIB_BOX_FIT once chosen

FUSIONS: dict[str, tuple[tuple[str, FusionPart], ...]] = {
    "fused-dlib-mobileface": (
        ("dlib-resnet", FusionPart(weight=0.5, impostor_mean=0.0, impostor_std=1.0)),
        ("mobileface-v2", FusionPart(weight=0.5, impostor_mean=0.0, impostor_std=1.0)),
    ),
    "fused-dlib-insightface": (
        ("dlib-resnet", FusionPart(weight=0.5, impostor_mean=0.0, impostor_std=1.0)),
        ("insightface-mobilefacenet", FusionPart(weight=0.5, impostor_mean=0.0, impostor_std=1.0)),
    ),
}
