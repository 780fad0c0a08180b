"""int8 copies of the object detectors with onnxruntime's static quantisation (``sightline models quantize``).

Calibration runs the detector's own preprocessing (``detector.input_tensor``) on a few photos and
records activation ranges (99.999th percentile); weights are quantised per output channel to int8,
activations to uint8 (QOperator format; the model is first converted to opset 13). YOLOX's stem and
first stage stay float (they see raw 0-255 pixels: quantised, they cost about 11 points of mAP on
coco-dev), and so does its head (the outputs are decoded with ``exp``).

Measured on coco-dev (bench/coco.py --onnx): YOLOX-Nano int8 0.310 / 0.499 mAP@[.5:.95] / mAP@.5
against 0.307 / 0.507 float, about 10 % faster on one thread; NanoDet's converted graph loses
nearly all its accuracy, so only YOLOX has a registered int8 variant.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from sightline.errors import ConfigError, ModelError
from sightline.vision.image_io import load_image

# Nodes left in float per model, by name prefix. YOLOX: the stem and first stage (they see raw 0-255
# pixels; quantised they cost 12 points of mAP) and the head (its outputs are decoded with exp).
KEEP_FLOAT: dict[str, tuple[str, ...]] = {
    "yolox-nano": ("/backbone/backbone/stem/", "/backbone/backbone/dark2/", "/head/"),
    "nanodet": (),
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class _Calibration:
    """onnxruntime ``CalibrationDataReader``: one preprocessed image per call."""

    def __init__(self, input_name: str, tensors: Iterable[np.ndarray]) -> None:
        self._items: Iterator[np.ndarray] = iter(tensors)
        self._input = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._items, None)
        return None if tensor is None else {self._input: tensor}

    def rewind(self) -> None:  # onnxruntime >= 1.17 may call it; one pass is all we need
        pass


def quantize_detector(detector, model: str, source: Path, target: Path, images: Iterable[Path]) -> Path:
    """Write an int8 copy of ONNX file ``source`` (model ``model``, run by ``detector``) to ``target``.

    ``images`` are the calibration photos: keep them apart from any images used to measure accuracy.
    Raises :class:`ConfigError` for a model without a recipe here or with no readable calibration image.
    """
    try:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    except ImportError as exc:  # onnxruntime's quantisation tools need the onnx package
        raise ConfigError(f"int8 quantisation needs the onnx package ({exc}): pip install onnx",
                          code="missing_dependency") from None
    if model not in KEEP_FLOAT:
        raise ConfigError(f"no int8 recipe for {model!r}; available: {', '.join(KEEP_FLOAT)}", code="no_recipe")
    tensors = [detector.input_tensor(load_image(path))[0] for path in images]
    if not tensors:
        raise ConfigError("int8 calibration needs at least one image", code="no_calibration_images")
    target.parent.mkdir(parents=True, exist_ok=True)
    input_name = detector.session.get_inputs()[0].name
    with tempfile.TemporaryDirectory() as work:
        try:
            float_model = _at_least_opset(source, Path(work) / "float.onnx")
            keep = _nodes_named(float_model, KEEP_FLOAT[model])
            with contextlib.redirect_stdout(io.StringIO()):  # the calibrator prints its progress
                quantize_static(str(float_model), str(target), _Calibration(input_name, tensors),
                                quant_format=QuantFormat.QOperator, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=keep)
        except Exception as exc:  # onnxruntime/onnx raise their own types
            raise ModelError(f"quantising {source} failed: {exc}", code="quantize_failed") from None
    return target


def _nodes_named(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    """Names of the nodes of ONNX file ``path`` that start with one of ``prefixes``."""
    import onnx

    return [node.name for node in onnx.load(str(path)).graph.node if prefixes and node.name.startswith(prefixes)]


def _at_least_opset(source: Path, scratch: Path, opset: int = 13) -> Path:
    """``source``, or a copy converted to ``opset`` when older (per-channel int8 needs opset 13)."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(source))
    current = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=opset)
    if current >= opset:
        return source
    onnx.save(version_converter.convert_version(model, opset), str(scratch))
    return scratch


def calibration_images(paths: Iterable[Path]) -> list[Path]:
    """Image files among ``paths``, folders expanded (sorted, non-recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"calibration image or folder not found: {path}", code="not_found")
    return found

