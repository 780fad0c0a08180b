"""``sightline models quantize``: an int8 copy of a registered object detector, in the models cache."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sightline.errors import ConfigError
from sightline.models.registry import get_spec
from sightline.models.store import ModelStore, sha256_file
from sightline.models.zoo import build_object_detector
from sightline.vision.objects.quantize import calibration_images, quantize_detector

BACKEND_OF = {"yolox-nano": "yolox", "nanodet": "nanodet"}  # model -> the backend whose code runs it


def registered_int8(name: str, path: Path) -> str | None:
    """The registered int8 variant of ``name`` whose sha256 equals file ``path``'s, else None."""
    variant = get_spec(name).variants.get("int8")
    if variant is None:
        return None
    return variant if sha256_file(path) == get_spec(variant).sha256 else None


def quantize_model(name: str, images: Iterable[Path], out_dir: Path | None = None,
                   store: ModelStore | None = None) -> Path:
    """Quantise registered object-detector model ``name``; the file goes to ``out_dir`` or the models cache.

    The int8 file is named after the float one (``objects/yolox_nano_int8.onnx``). Made with the
    calibration images and library versions in the catalogue's ``how_to_get``, it is the registered
    variant (same sha256, :func:`registered_int8`); otherwise a candidate to measure with
    ``bench/coco.py --onnx``.
    """
    if name not in BACKEND_OF:
        raise ConfigError(f"no int8 recipe for {name!r}; available: {', '.join(BACKEND_OF)}", code="no_recipe")
    store = store or ModelStore()
    relative = Path(get_spec(name).filename)
    target = (out_dir or store.cache_dir) / relative.with_name(f"{relative.stem}_int8.onnx")
    detector = build_object_detector(BACKEND_OF[name], store=store)
    return quantize_detector(detector, name, store.path(name), target, calibration_images(images))
