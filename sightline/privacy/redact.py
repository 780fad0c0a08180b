"""Blur or pixelate regions of an image (unknown faces in stored media, exported frames)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import cv2
import numpy as np

from sightline.errors import SightlineError

Method = Literal["gaussian", "pixelate"]


def blur_regions(image: np.ndarray, boxes: Iterable[Sequence[float]], *, method: Method = "gaussian",
                 pad: float = 0.15, strength: float = 1.0) -> np.ndarray:
    """A copy of ``image`` with every (x1, y1, x2, y2) box, grown by ``pad`` of its size, made unrecognisable.

    ``gaussian`` uses a kernel about half the box size; ``pixelate`` keeps about 8 blocks across the box.
    ``strength`` scales either (1 = the default, enough to defeat face recognition).
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise SightlineError("blur_regions needs a uint8 image array", code="bad_image")
    if method not in ("gaussian", "pixelate"):
        raise SightlineError(f"unknown redaction method {method!r}: use gaussian or pixelate", code="bad_request")
    out = image.copy()
    height, width = image.shape[:2]
    for box in boxes:
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        grow_x, grow_y = (x2 - x1) * pad, (y2 - y1) * pad
        left, top = max(int(x1 - grow_x), 0), max(int(y1 - grow_y), 0)
        right, bottom = min(int(np.ceil(x2 + grow_x)), width), min(int(np.ceil(y2 + grow_y)), height)
        if right <= left or bottom <= top:
            continue
        region = out[top:bottom, left:right]
        out[top:bottom, left:right] = _obscure(region, method, strength)
    return out


def _obscure(region: np.ndarray, method: Method, strength: float) -> np.ndarray:
    h, w = region.shape[:2]
    if method == "pixelate":
        blocks = max(2, int(round(8 / max(strength, 0.1))))
        small = cv2.resize(region, (min(blocks, w), min(blocks, h)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    kernel = int(max(h, w) * 0.5 * strength) | 1
    blurred = cv2.GaussianBlur(region, (kernel, kernel), 0)
    return cv2.GaussianBlur(blurred, (kernel, kernel), 0)
