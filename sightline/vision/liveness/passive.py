"""Passive presentation-attack detection on one frame: is the face in front of the camera live, or a photo/screen?

``PassiveLiveness`` runs one or more networks on crops of a detected face and fuses them:

* ``minifasnet`` (default, Apache-2.0 weights): minivision's two official MiniFASNets, as upstream
  runs them: MiniFASNetV2 on the face box grown 2.7x and MiniFASNetV1SE on the box grown 4.0x, each
  resized to 80x80 BGR 0-255; their softmaxes (spoof, real, spoof) are summed and halved, so ``live``
  is the mean probability of class 1.
* ``minifasnet-celebaspoof`` (**opt-in**: trained on CelebA-Spoof, whose data terms allow
  non-commercial research only): one MiniFASNet-V2-SE on a 128x128 RGB/255 square crop of 1.5x the
  box; ``live`` is the softmax of its (real, spoof) logits. Every score carries the licence warning.

The vision layer gets opened onnxruntime sessions; ``sightline.models.liveness`` verifies the files
against the catalogue, converts the ``.pth`` weights and opens the sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sightline.errors import ConfigError, ImageError, NoFaceError
from sightline.vision.faces.types import Face
from sightline.vision.liveness.crops import check_box, minifasnet_crop, square_crop

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
CELEBASPOOF_WARNING = ("minifasnet-celebaspoof is trained on CelebA-Spoof, whose terms allow non-commercial "
                       "research use only: do not use it in a commercial deployment")


@dataclass(frozen=True)
class LivenessNet:
    """One network and how it is fed: crop ``kind`` (``minifasnet`` or ``square``), ``scale``, ``size``.

    ``live_class`` is the index of the "real" class in the network's output; inputs are BGR 0-255
    unless ``rgb_unit`` (RGB scaled to 0-1).
    """

    name: str
    session: object
    scale: float
    size: int = 80
    kind: str = "minifasnet"
    live_class: int = 1
    rgb_unit: bool = False

    def crop(self, image: np.ndarray, face: Face) -> np.ndarray:
        if self.kind == "minifasnet":
            return minifasnet_crop(image, face.box, self.scale, self.size)
        return square_crop(image, face.box, self.scale, self.size)

    def probabilities(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """Softmax of the network's output for each face, shape (len(faces), classes)."""
        batch = np.stack([self.crop(image, face) for face in faces]).astype(np.float32)
        if self.rgb_unit:
            batch = batch[..., ::-1] / 255.0
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        name = self.session.get_inputs()[0].name  # type: ignore[attr-defined]
        fixed = self.session.get_inputs()[0].shape[0]  # type: ignore[attr-defined]
        if isinstance(fixed, int) and fixed == 1 and len(batch) > 1:
            logits = np.concatenate([self.session.run(None, {name: batch[i:i + 1]})[0]  # type: ignore[attr-defined]
                                     for i in range(len(batch))])
        else:
            logits = self.session.run(None, {name: batch})[0]  # type: ignore[attr-defined]
        logits = np.asarray(logits, dtype=np.float64)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class LivenessScore:
    """The passive verdict on one face: ``live`` in [0, 1], ``is_live = live >= threshold``."""

    live: float
    is_live: bool
    model: str
    per_model: dict[str, float]
    threshold: float = DEFAULT_THRESHOLD
    warning: str = ""  # licence warning of an opt-in model, else empty
    ms: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (API, audit reasons)."""
        out: dict[str, object] = {"live": round(self.live, 4), "is_live": self.is_live, "model": self.model,
                                  "per_model": {k: round(v, 4) for k, v in self.per_model.items()},
                                  "threshold": self.threshold}
        if self.warning:
            out["warning"] = self.warning
        return out


class PassiveLiveness:
    """Scores faces with the networks of one liveness model (see the module docstring)."""

    def __init__(self, nets: Sequence[LivenessNet], *, model: str = "minifasnet",
                 threshold: float = DEFAULT_THRESHOLD, warning: str = "") -> None:
        if not nets:
            raise ConfigError("a liveness model needs at least one network", code="bad_liveness_model")
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"liveness threshold must be in (0, 1), got {threshold}", code="bad_threshold")
        self.nets = tuple(nets)
        self.model = model
        self.threshold = threshold
        self.warning = warning
        if warning:
            log.warning("liveness model %s: %s", model, warning)

    def score_many(self, image: np.ndarray, faces: Sequence[Face]) -> list[LivenessScore]:
        """One :class:`LivenessScore` per face of ``image`` (uint8 BGR), in order."""
        import time

        if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ImageError("liveness needs a uint8 BGR image (H, W, 3)")
        if not faces:
            return []
        for face in faces:
            check_box(image.shape, face.box)
        start = time.perf_counter()
        per_net = {net.name: net.probabilities(image, faces)[:, net.live_class] for net in self.nets}
        live = np.mean(np.stack(list(per_net.values())), axis=0)
        ms = (time.perf_counter() - start) * 1000 / len(faces)
        return [LivenessScore(live=float(live[i]), is_live=bool(live[i] >= self.threshold), model=self.model,
                              per_model={name: float(values[i]) for name, values in per_net.items()},
                              threshold=self.threshold, warning=self.warning, ms=ms)
                for i in range(len(faces))]

    def score(self, image: np.ndarray, face: Face | None) -> LivenessScore:
        """The :class:`LivenessScore` of ``face`` in ``image`` (uint8 BGR)."""
        if face is None:
            raise NoFaceError("no face to check for liveness")
        return self.score_many(image, [face])[0]
