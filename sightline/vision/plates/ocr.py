"""Plate text recognition with PP-OCR's recogniser (the ONNX file the ``rapidocr`` wheel ships).

The recogniser reads one text line: a BGR crop resized to 48 px high (aspect
kept, width padded to a multiple of 8), scaled to [-1, 1], NCHW; it returns per
time step a probability over its character list (index 0 is the CTC blank).
Plates only use A-Z and 0-9, so decoding is restricted to those classes: the
network's other 18 000 characters (lower case, punctuation, CJK) can never win.
Each position keeps its per-class probabilities so format rules can later
choose between confusable letters and digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REC_HEIGHT = 48
MIN_WIDTH = 64
MAX_WIDTH = 640


@dataclass
class TextRead:
    """A decoded line: text over :data:`PLATE_ALPHABET`, per-character probability and alternatives."""

    text: str
    char_probs: list[float] = field(default_factory=list)
    alternatives: list[dict[str, float]] = field(default_factory=list)  # per char: symbol -> probability

    @property
    def confidence(self) -> float:
        """The weakest character's probability (a read is as good as its worst character); 0 when empty."""
        return float(min(self.char_probs)) if self.char_probs else 0.0


class PlateRecognizer:
    """Runs the PP-OCR recogniser with an onnxruntime session, decoding only plate characters."""

    def __init__(self, session) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        characters = session.get_modelmeta().custom_metadata_map.get("character", "").splitlines()
        if not characters:
            raise ValueError("the recogniser model carries no character list in its metadata")
        index = {char: i + 1 for i, char in enumerate(characters)}  # 0 is the CTC blank
        self.class_ids = np.array([0] + [index[c] for c in PLATE_ALPHABET], dtype=np.int64)

    def read(self, crop_bgr: np.ndarray) -> TextRead:
        """Read one line of plate text from ``crop_bgr`` (uint8 BGR)."""
        return self.read_batch([crop_bgr])[0]

    def read_batch(self, crops: list[np.ndarray]) -> list[TextRead]:
        """Read several crops in one run (padded to the widest)."""
        if not crops:
            return []
        inputs = [_prepare(crop) for crop in crops]
        width = max(x.shape[2] for x in inputs)
        batch = np.zeros((len(inputs), 3, REC_HEIGHT, width), dtype=np.float32)
        for i, x in enumerate(inputs):
            batch[i, :, :, : x.shape[2]] = x
        probs = self.session.run(None, {self.input_name: batch})[0]
        return [_ctc_decode(p[:, self.class_ids]) for p in probs]


def _prepare(crop: np.ndarray) -> np.ndarray:
    height, width = crop.shape[:2]
    target = int(min(MAX_WIDTH, max(MIN_WIDTH, math.ceil(REC_HEIGHT * width / max(height, 1)))))
    resized = cv2.resize(crop, (target, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
    return (resized.transpose(2, 0, 1).astype(np.float32) / 127.5) - 1.0


def _ctc_decode(probs: np.ndarray) -> TextRead:
    """Greedy CTC over the restricted classes (column 0 blank, then :data:`PLATE_ALPHABET`)."""
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-9)
    best = probs.argmax(axis=1)
    text, char_probs, alternatives = [], [], []
    previous = 0
    start = 0
    for t, cls in enumerate(list(best) + [0]):
        if cls != previous:
            if previous != 0:  # close the run of ``previous``: pool its steps
                run = probs[start:t, 1:].max(axis=0)
                symbol = PLATE_ALPHABET[previous - 1]
                text.append(symbol)
                char_probs.append(float(run[previous - 1]))
                alternatives.append({PLATE_ALPHABET[k]: float(run[k]) for k in np.argsort(-run)[:4] if run[k] > 0.01})
            start = t
        previous = cls
    return TextRead("".join(text), char_probs, alternatives)
