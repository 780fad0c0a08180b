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
TEXT_DETECTOR = "ppocr-det"
RAPIDOCR_FILES = {  # registry name -> (file inside the rapidocr 3.10.0 wheel, its sha256)
    TEXT_RECOGNISER: ("models/PP-OCRv6_rec_small.onnx",
                      "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
    TEXT_DETECTOR: ("models/PP-OCRv6_det_small.onnx",
                    "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
}


def plate_model_paths(store: ModelStore | None = None) -> dict[str, Path]:
    """Verified paths: plate detector, text recogniser and text detector (``detector``, ``recogniser``, ``text``)."""
    store = store or ModelStore()
    return {"detector": store.path(PLATE_DETECTOR), "recogniser": _ppocr(store, TEXT_RECOGNISER),
            "text": _ppocr(store, TEXT_DETECTOR)}


def _ppocr(store: ModelStore, name: str) -> Path:
    try:
        return store.path(name)
    except ModelError as exc:
        if exc.code != "unknown_model":
            raise
    return _rapidocr_file(*RAPIDOCR_FILES[name])


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
