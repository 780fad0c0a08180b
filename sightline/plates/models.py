"""The model files behind plate reading, resolved in one place.

LPD-YuNet comes from the model registry (``lpd-yunet``). The PP-OCR recogniser ships inside the
``rapidocr`` wheel; it is taken from the registry when registered there as ``ppocr-rec``, else from the
installed package, checked against the sha256 of rapidocr 3.10.0's file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sightline.errors import ModelError
from sightline.models.store import ModelStore, sha256_file

PLATE_DETECTOR = "lpd-yunet"
TEXT_RECOGNISER = "ppocr-rec"
RAPIDOCR_REC = "models/PP-OCRv6_rec_small.onnx"
RAPIDOCR_REC_SHA256 = "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"


def plate_model_paths(store: ModelStore | None = None) -> dict[str, Path]:
    """Verified paths of the plate detector and the text recogniser (``{"detector", "recogniser"}``)."""
    store = store or ModelStore()
    detector = store.path(PLATE_DETECTOR)
    try:
        recogniser = store.path(TEXT_RECOGNISER)
    except ModelError as exc:
        if exc.code != "unknown_model":
            raise
        recogniser = _rapidocr_file(RAPIDOCR_REC, RAPIDOCR_REC_SHA256)
    return {"detector": detector, "recogniser": recogniser}


def _rapidocr_file(relative: str, sha256: str) -> Path:
    spec = importlib.util.find_spec("rapidocr")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / relative
        if path.is_file():
            if sha256_file(path) != sha256:
                raise ModelError(f"{path} is not rapidocr 3.10.0's file (sha256 differs); "
                                 "pip install rapidocr==3.10.0", code="model_corrupt")
            return path
    raise ModelError("the PP-OCR recogniser was not found: pip install rapidocr==3.10.0 (it ships the ONNX file)",
                     code="model_missing")
