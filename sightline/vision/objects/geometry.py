"""Fit an image into a square network input, and map boxes back to the original pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class InputTransform:
    """How original pixels were placed in the network input: ``input = original * scale + pad``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    width: int
    height: int

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) x1,y1,x2,y2 boxes from input pixels to original pixels, clipped to the image."""
        out = np.empty_like(boxes, dtype=np.float64)
        out[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_y) / self.scale_y
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out


def letterbox(image: np.ndarray, size: int, fill: int = 0, *, centre: bool = True) -> tuple[np.ndarray, InputTransform]:
    """Resize keeping the aspect ratio and place the result on a ``size`` x ``size`` canvas of ``fill``.

    ``centre=True`` centres the picture (padding split on both sides); ``False`` puts it top-left
    (padding right and below only, as YOLOX was trained).
    """
    height, width = image.shape[:2]
    scale = size / float(max(height, width))
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_x, pad_y = ((size - new_w) // 2, (size - new_h) // 2) if centre else (0, 0)
    canvas = np.full((size, size, 3), fill, dtype=np.uint8)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(image, (new_w, new_h),
                                                                       interpolation=interpolation)
    return canvas, InputTransform(new_w / width, new_h / height, pad_x, pad_y, width, height)


def stretch(image: np.ndarray, size: int) -> tuple[np.ndarray, InputTransform]:
    """Resize to ``size`` x ``size`` ignoring the aspect ratio."""
    height, width = image.shape[:2]
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return resized, InputTransform(size / width, size / height, 0.0, 0.0, width, height)
