"""``sightline models quantize``: an int8 copy of a registered model, written to the models cache.

Object detectors (YOLOX-Nano, NanoDet) follow :mod:`sightline.vision.objects.quantize`; YuNet and the
ArcFace-template embedders follow :mod:`sightline.models.int8`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sightline.errors import ConfigError
from sightline.models.int8 import RECIPES, quantize_face_model
from sightline.models.registry import REGISTRY, get_spec
from sightline.models.store import ModelStore, sha256_file
from sightline.models.zoo import build_object_detector
from sightline.vision.objects.quantize import calibration_images, quantize_detector

BACKEND_OF = {"yolox-nano": "yolox", "nanodet": "nanodet"}  # model -> the backend whose code runs it
QUANTIZABLE = (*BACKEND_OF, *RECIPES)


def registered_int8(name: str, path: Path) -> str | None:
    """The registered int8 model (``name``'s int8 variant, else ``NAME-int8``) whose sha256 equals ``path``'s."""
    variant = get_spec(name).variants.get("int8") or (f"{name}-int8" if f"{name}-int8" in REGISTRY else None)
    if variant is None:
        return None
    return variant if sha256_file(path) == get_spec(variant).sha256 else None


def int8_target(name: str, out_dir: Path | None = None, store: ModelStore | None = None) -> Path:
    """Where the int8 copy of ``name`` goes: named after the float file, in ``out_dir`` or the models cache."""
    store = store or ModelStore()
    relative = Path(get_spec(name).filename)
    return (out_dir or store.cache_dir) / relative.with_name(f"{relative.stem}_int8.onnx")


def quantize_model(name: str, images: Iterable[Path], out_dir: Path | None = None,
                   store: ModelStore | None = None) -> Path:
    """Quantise registered model ``name``; the file goes to ``out_dir`` or the models cache.

    The int8 file is named after the float one (``objects/yolox_nano_int8.onnx``). Made with the
    calibration images and library versions in the catalogue's ``how_to_get``, it is the registered
    int8 model (same sha256, :func:`registered_int8`); otherwise a candidate to measure with
    ``bench/coco.py --onnx`` (objects) or ``bench/int8.py`` (faces).
    """
    if name not in QUANTIZABLE:
        raise ConfigError(f"no int8 recipe for {name!r}; available: {', '.join(QUANTIZABLE)}", code="no_recipe")
    store = store or ModelStore()
    target = int8_target(name, out_dir, store)
    if name in RECIPES:
        return quantize_face_model(name, store.path(name), target, list(images), store.path("yunet-2023mar"))
    detector = build_object_detector(BACKEND_OF[name], store=store)
    return quantize_detector(detector, name, store.path(name), target, calibration_images(images))
