"""The model files behind plate reading, resolved in one place through the model registry.

``lpd-yunet`` (LPD-YuNet, in ``SIGHTLINE_MODELS``), ``ppocr-rec`` and ``ppocr-det`` (PP-OCR's recogniser and
text detector, shipped inside the pinned ``rapidocr`` wheel); every file is checked against its sha256.
"""

from __future__ import annotations

from pathlib import Path

from sightline.models.store import ModelStore

PLATE_DETECTOR = "lpd-yunet"
TEXT_RECOGNISER = "ppocr-rec"
TEXT_DETECTOR = "ppocr-det"


def plate_model_paths(store: ModelStore | None = None) -> dict[str, Path]:
    """Verified paths: plate detector, text recogniser and text detector (``detector``, ``recogniser``, ``text``)."""
    store = store or ModelStore()
    return {"detector": store.path(PLATE_DETECTOR), "recogniser": store.path(TEXT_RECOGNISER),
            "text": store.path(TEXT_DETECTOR)}
