"""Videos made from real plate photos (plates-dev) for the plate-video tests: panned and zoomed frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sightline.video.writer import VideoWriter

SIZE = (640, 480)


def pan_zoom(photo: np.ndarray, index: int, count: int, *, zoom: float = 1.25) -> np.ndarray:
    """Frame ``index`` of ``count``: a window that zooms in from the whole photo and pans left to right."""
    height, width = photo.shape[:2]
    t = index / max(count - 1, 1)
    scale = 1.0 + (zoom - 1.0) * t
    w, h = width / scale, height / scale
    x0, y0 = (width - w) * t, 0.0  # anchored at the top: the windscreen stays in view
    window = photo[int(y0):int(y0 + h), int(x0):int(x0 + w)]
    return cv2.resize(window, SIZE, interpolation=cv2.INTER_AREA)


def smudge(frame: np.ndarray, plate_box: tuple[float, float, float, float], char_index: int, chars: int) -> np.ndarray:
    """A copy of ``frame`` with dirt over one character of the plate (so that frame alone misreads)."""
    out = frame.copy()
    x1, y1, x2, y2 = plate_box
    step = (x2 - x1) / chars
    cx1 = int(x1 + step * char_index + step * 0.1)
    cx2 = int(x1 + step * (char_index + 1) - step * 0.1)
    cv2.rectangle(out, (cx1, int(y1 + (y2 - y1) * 0.2)), (cx2, int(y2 - (y2 - y1) * 0.2)), (40, 40, 40), -1)
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float = 5.0) -> Path:
    """The frames as an H.264/MPEG-4 file written with PyAV."""
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def paste_driver(car: np.ndarray, face_photo: np.ndarray, engine, *, x: int = 300, height: int = 70) -> np.ndarray:
    """A copy of ``car`` with the first face of ``face_photo`` (a real photo) pasted at the top, ``x`` px in:
    in plates-dev eu/test_002 that is the windscreen's right half (the driver of a left-hand-drive car)."""
    face = engine.detect_array(face_photo, embed=False)[0]
    x1, y1, x2, y2 = (int(v) for v in face.box)
    w, h = x2 - x1, y2 - y1
    head = face_photo[max(0, y1 - int(0.3 * h)):y2 + int(0.15 * h), max(0, x1 - int(0.25 * w)):x2 + int(0.25 * w)]
    head = cv2.resize(head, (int(head.shape[1] * height / head.shape[0]), height), interpolation=cv2.INTER_AREA)
    out = car.copy()
    out[0:height, x:x + head.shape[1]] = head
    return out
