"""Plate crops cut from the full-resolution image.

The crop is the detected box widened a little (so the last character is never
cut) and optionally trimmed at the top and bottom, where plates carry state
names, slogans and dealer frames that the recogniser would otherwise read as
part of the line. Small plates are upsampled here with a cubic filter.
On plates-dev, axis-aligned crops read better than crops warped by
LPD-YuNet's predicted corners (the corners are often a few pixels off).
"""

from __future__ import annotations

import cv2
import numpy as np

PAD_X = 0.06  # widen by this fraction of the width on each side
TRIMS_Y = (0.12, 0.0)  # crops tried in turn (the next only when the read is doubtful); the surest read wins
MIN_CROP_HEIGHT = 8
REC_HEIGHT = 48


def plate_crop(image: np.ndarray, box: tuple[float, float, float, float], *, pad_x: float = PAD_X,
               trim_y: float = 0.0) -> np.ndarray | None:
    """Crop of one plate from ``image`` (full resolution); None when too small to read."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    box_w, box_h = x2 - x1, y2 - y1
    if box_h < MIN_CROP_HEIGHT or box_w < MIN_CROP_HEIGHT:
        return None
    left, right = max(0, int(round(x1 - pad_x * box_w))), min(width, int(round(x2 + pad_x * box_w)))
    top, bottom = max(0, int(round(y1 + trim_y * box_h))), min(height, int(round(y2 - trim_y * box_h)))
    if right - left < MIN_CROP_HEIGHT or bottom - top < MIN_CROP_HEIGHT // 2:
        return None
    crop = image[top:bottom, left:right]
    if crop.shape[0] < REC_HEIGHT:
        scale = REC_HEIGHT / crop.shape[0]
        crop = cv2.resize(crop, (max(1, int(round(crop.shape[1] * scale))), REC_HEIGHT),
                          interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)
