"""int8 copies of the face models (YuNet, ArcFace-template embedders) with onnxruntime's static quantisation.

``sightline models quantize NAME --calibration PATH`` calls :func:`quantize_face_model`. Calibration
feeds each network exactly what Sightline feeds it at run time:

- ``yunet-2023mar``: 640x640 canvases (the graph's input size; ``cv2.FaceDetectorYN`` feeds raw BGR
  0-255) holding 1, 4, 9 or 25 photos each, so faces of about 250, 125, 80 and 50 px are seen;
- the embedders: the face nearest the centre, found by the float YuNet and aligned to the ArcFace
  112x112 template, normalised as the embedder normalises it.

The recipe: the float graph converted to opset 13 and pre-processed (``quant_pre_process``: batch
norms folded into convolutions), then QDQ format, weights int8 per output channel, activations uint8,
ranges from the 99.999th percentile. QDQ is what OpenCV's DNN (which runs YuNet) fuses into int8 layers.

Calibration photos must not be the photos accuracy is reported on. An LFW folder (one holding
``pairsDevTrain.txt`` and ``pairs.txt``) given as ``--calibration`` stands for :func:`lfw_calibration`:
view-1 training images of people who appear nowhere in view 2, so LFW view-2 figures stay clean.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sightline.errors import ConfigError, ModelError

YUNET_SIDE = 640
MOSAICS = ((1, 8), (2, 8), (3, 8), (5, 8))  # (photos per side, canvases): 32 canvases, 312 photos
MAX_CROPS = 160
MAX_LFW_IMAGES = 320


@dataclass(frozen=True)
class Recipe:
    """How one model is fed during calibration: ``yunet`` canvases or ``arcface`` crops ``(x - mean) / std``."""

    feed: str
    mean: float = 0.0
    std: float = 1.0


RECIPES: dict[str, Recipe] = {
    "yunet-2023mar": Recipe("yunet"),
    "faceplugin-feature": Recipe("arcface", mean=127.0, std=128.0),
    "mobileface-v2": Recipe("arcface"),
    "insightface-mobilefacenet": Recipe("arcface"),
}


def lfw_calibration(root: Path, limit: int = MAX_LFW_IMAGES) -> list[Path]:
    """Images of LFW view 1 (``pairsDevTrain.txt``) whose people are in no view-2 pair, sorted, at most ``limit``."""
    def people_and_images(name: str) -> tuple[set[str], set[str]]:
        people, images = set(), set()
        for line in (root / name).read_text().splitlines()[1:]:
            parts = line.split()
            pairs = [(parts[0], parts[1]), (parts[0], parts[2])] if len(parts) == 3 else \
                [(parts[0], parts[1]), (parts[2], parts[3])] if len(parts) == 4 else []
            for person, number in pairs:
                people.add(person)
                images.add(f"{person}/{person}_{int(number):04d}.jpg")
        return people, images

    view2_people, _ = people_and_images("pairs.txt")
    _, train_images = people_and_images("pairsDevTrain.txt")
    chosen = sorted(rel for rel in train_images if rel.split("/")[0] not in view2_people)
    step = max(1, -(-len(chosen) // limit))
    return [root / "images" / rel for rel in chosen[::step]][:limit]


def is_lfw(path: Path) -> bool:
    """Whether ``path`` is an LFW folder (holds the view-1 and view-2 pair lists and ``images/``)."""
    return path.is_dir() and (path / "pairsDevTrain.txt").is_file() and (path / "pairs.txt").is_file()


def _canvases(images: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
    """640x640 BGR canvases of 1, 4, 9 and 25 photos (cycling through ``images``), as NCHW float32."""
    k = 0
    for per_side, count in MOSAICS:
        cell = YUNET_SIDE // per_side
        for _ in range(count):
            canvas = np.zeros((YUNET_SIDE, YUNET_SIDE, 3), np.uint8)
            for i in range(per_side * per_side):
                row, col = divmod(i, per_side)
                canvas[row * cell:(row + 1) * cell, col * cell:(col + 1) * cell] = cv2.resize(
                    images[k % len(images)], (cell, cell), interpolation=cv2.INTER_AREA)
                k += 1
            yield canvas.transpose(2, 0, 1)[None].astype(np.float32)


def _crops(images: Sequence[np.ndarray], detector, recipe: Recipe) -> Iterator[np.ndarray]:
    """The centre face of each photo, ArcFace-aligned, RGB, normalised, NCHW float32 (at most MAX_CROPS)."""
    from sightline.vision.faces.align import align_face

    made = 0
    for image in images:
        faces = detector.detect(image)
        if not faces or made >= MAX_CROPS:
            continue
        h, w = image.shape[:2]
        face = min(faces, key=lambda f: (f.box[0] + f.box[2] - w) ** 2 + (f.box[1] + f.box[3] - h) ** 2)
        rgb = align_face(image, face.landmarks, 112)[:, :, ::-1].astype(np.float32)
        made += 1
        yield np.ascontiguousarray(((rgb - recipe.mean) / recipe.std).transpose(2, 0, 1)[None])


def calibration_tensors(name: str, images: Sequence[np.ndarray], yunet_path: Path | None = None) -> list[np.ndarray]:
    """What model ``name`` sees at run time, made from ``images`` (BGR uint8); ``yunet_path`` finds faces."""
    recipe = RECIPES[name]
    if recipe.feed == "yunet":
        return list(_canvases(images))
    from sightline.vision.faces.detectors import YuNetDetector

    return list(_crops(images, YuNetDetector(str(yunet_path)), recipe))


class _Reader:
    """onnxruntime ``CalibrationDataReader`` over prepared tensors (one pass)."""

    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self._items = iter(tensors)
        self._input = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._items, None)
        return None if tensor is None else {self._input: tensor}

    def rewind(self) -> None:  # one pass is all the calibrator needs
        pass


def quantize_onnx(source: Path, target: Path, tensors: Sequence[np.ndarray]) -> Path:
    """Write the int8 (QDQ, per-channel) copy of ONNX file ``source`` calibrated on ``tensors`` to ``target``."""
    try:
        import onnx
        from onnx import version_converter
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise ConfigError(f"int8 quantisation needs the onnx package ({exc}): pip install onnx",
                          code="missing_dependency") from None
    if not tensors:
        raise ConfigError("int8 calibration found no usable image (faces: none detected)",
                          code="no_calibration_images")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        try:
            model = onnx.load(str(source))
            opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
            float_path, ready = Path(work) / "float.onnx", Path(work) / "ready.onnx"
            onnx.save(version_converter.convert_version(model, 13) if opset < 13 else model, str(float_path))
            quant_pre_process(str(float_path), str(ready), skip_symbolic_shape=True)
            input_name = onnx.load(str(ready)).graph.input[0].name
            with contextlib.redirect_stdout(io.StringIO()):  # the calibrator prints its progress
                quantize_static(str(ready), str(target), _Reader(input_name, tensors),
                                quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.Percentile)
        except Exception as exc:  # onnx/onnxruntime raise their own types
            raise ModelError(f"quantising {source} failed: {exc}", code="quantize_failed") from None
    return target


def face_calibration_images(paths: Sequence[Path]) -> list[Path]:
    """Calibration photos: an LFW folder stands for :func:`lfw_calibration`; other folders are listed, sorted."""
    from sightline.vision.objects.quantize import calibration_images

    found: list[Path] = []
    for path in paths:
        found += lfw_calibration(path) if is_lfw(path) else calibration_images([path])
    return found


def quantize_face_model(name: str, source: Path, target: Path, images: Sequence[Path],
                        yunet_path: Path | None = None) -> Path:
    """int8 copy of face model ``name`` (ONNX ``source``) at ``target``, calibrated on ``images``."""
    from sightline.vision.image_io import load_image

    if name not in RECIPES:
        raise ConfigError(f"no int8 recipe for {name!r}; available: {', '.join(RECIPES)}", code="no_recipe")
    pixels = [load_image(path) for path in face_calibration_images(images)]
    if not pixels:
        raise ConfigError("int8 calibration needs at least one image", code="no_calibration_images")
    return quantize_onnx(source, target, calibration_tensors(name, pixels, yunet_path))
