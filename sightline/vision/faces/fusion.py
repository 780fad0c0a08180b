"""Embedder settings chosen on LFW view 1 (``pairsDevTrain.txt``) by ``bench/lfw.py --choose``; view 2 never.

``FLIP``: embedders whose flip test-time augmentation raised view-1 accuracy/TAR.
``DLIB_BOX_FROM_LANDMARKS``: the HOG-like box (ArcFace-template coordinates) dlib's shape predictor
runs on, placed by the detector's landmarks (``bench/dlib_box.py``); None: the detector's own box.
``FUSIONS``: per fused embedder, each part's weight and view-1 impostor cosine mean/std (z-norm).
"""

from __future__ import annotations

from sightline.vision.faces.onnx_embedders import FusionPart

# View 1 with flip TTA: mobileface-v2 accuracy 98.50 -> 98.55 %, TAR @ FAR 1e-2 97.7 -> 98.1 %;
# frfeature 99.14 -> 99.27 %, 99.0 -> 99.1 %; insightface-mobilefacenet 99.36 -> 99.32 %, 99.5 -> 99.4 % (off).
FLIP: dict[str, bool] = {"mobileface-v2": True, "frfeature": True, "insightface-mobilefacenet": False}

DLIB_BOX_FIT: tuple[float, float, float, float] = (6.5, 25.7, 97.7, 115.7)  # bench/dlib_box.py, 296 faces
DLIB_BOX_FROM_LANDMARKS: tuple[float, float, float, float] | None = DLIB_BOX_FIT  # chosen on view 1

# Weight grid 0..1 in steps of 0.05 on view 1: the most accurate (ties: lowest EER, then lowest weight).
# dlib + mobileface-v2: 99.27 % at 0.65-0.80 (EER 0.82 % from 0.70); dlib + insightface: 99.59 % (EER 0.45 % at 0.65).
FUSIONS: dict[str, tuple[tuple[str, FusionPart], ...]] = {
    "fused-dlib-mobileface": (
        ("dlib-resnet", FusionPart(weight=0.70, impostor_mean=0.8336, impostor_std=0.0349)),
        ("mobileface-v2", FusionPart(weight=0.30, impostor_mean=0.0078, impostor_std=0.0922)),
    ),
    "fused-dlib-insightface": (
        ("dlib-resnet", FusionPart(weight=0.65, impostor_mean=0.8338, impostor_std=0.0349)),
        ("insightface-mobilefacenet", FusionPart(weight=0.35, impostor_mean=0.0050, impostor_std=0.0953)),
    ),
}
