"""The face crops the presentation-attack models were trained on (context around the face matters to them)."""

from __future__ import annotations

import cv2
import numpy as np

from sightline.errors import ImageError

MIN_BOX_PX = 2.0
MIN_INSIDE = 0.5  # share of the box's area that must lie inside the image


def check_box(image_shape: tuple[int, ...], box: tuple[float, float, float, float]) -> None:
    """Refuse a face box that is degenerate or mostly outside the image (it would crop something else)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    width, height = x2 - x1, y2 - y1
    if not np.isfinite([x1, y1, x2, y2]).all() or width < MIN_BOX_PX or height < MIN_BOX_PX:
        raise ImageError(f"face box {box} is too small or not a box", code="bad_face_box")
    inside_w = max(0.0, min(x2, image_shape[1]) - max(x1, 0.0))
    inside_h = max(0.0, min(y2, image_shape[0]) - max(y1, 0.0))
    if inside_w * inside_h < MIN_INSIDE * width * height:
        raise ImageError(f"face box {box} lies mostly outside the {image_shape[1]}x{image_shape[0]} image",
                         code="bad_face_box")


def scaled_box(image_w: int, image_h: int, box: tuple[float, float, float, float],
               scale: float) -> tuple[int, int, int, int]:
    """MiniFASNet's crop window: ``box`` (x1, y1, x2, y2) grown ``scale`` times about its centre.

    As upstream crops: the scale is reduced until the window fits the image, then the window is
    shifted (not shrunk) back inside the image. Returns inclusive pixel corners (left, top, right, bottom).
    """
    x, y = int(box[0]), int(box[1])
    w, h = max(1, int(box[2] - box[0] + 1)), max(1, int(box[3] - box[1] + 1))
    scale = min((image_h - 1) / h, (image_w - 1) / w, scale)
    cx, cy = x + w / 2, y + h / 2
    left, top = cx - w * scale / 2, cy - h * scale / 2
    right, bottom = cx + w * scale / 2, cy + h * scale / 2
    if left < 0:
        right, left = right - left, 0
    if top < 0:
        bottom, top = bottom - top, 0
    if right > image_w - 1:
        left, right = left - (right - image_w + 1), image_w - 1
    if bottom > image_h - 1:
        top, bottom = top - (bottom - image_h + 1), image_h - 1
    return int(left), int(top), int(right), int(bottom)


def minifasnet_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float,
                    size: int = 80) -> np.ndarray:
    """BGR ``size`` x ``size`` crop of the face ``box`` grown ``scale`` times (upstream's generate_patches)."""
    left, top, right, bottom = scaled_box(image.shape[1], image.shape[0], box, scale)
    return cv2.resize(image[top:bottom + 1, left:right + 1], (size, size))


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float, size: int) -> np.ndarray:
    """BGR ``size`` x ``size`` crop of a square ``scale`` times the box's longer side, centred on the box.

    Parts of the square outside the image are filled by reflecting the image at its border (the
    CelebA-Spoof MiniFASNet's preprocessing).
    """
    side = max(2, int(round(max(box[2] - box[0], box[3] - box[1]) * scale)))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    height, width = image.shape[:2]
    pad = max(0, -left, -top, left + side - width, top + side - height)
    if pad:
        mode = cv2.BORDER_REFLECT_101 if pad < min(height, width) else cv2.BORDER_REPLICATE
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, mode)
    crop = image[top + pad:top + pad + side, left + pad:left + pad + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
