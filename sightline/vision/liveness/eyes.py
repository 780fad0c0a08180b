"""Eye openness from 68 face landmarks, and blinks from a sequence of it (the "blink" challenge).

The landmark model is FacePlugin's ``fr_landmark.onnx`` (68 points in the iBUG order: eye contours at
36-41 and 42-47). Its preprocessing, found by testing on real photos: the detector's box widened by
5 % on each side and lengthened by 10 % at the chin, cropped, converted to grey, resized to 64x64
and divided by 256; the 136 outputs are (x, y) pairs in fractions of that crop. On the 42 faces of
faces-small its eye centres lie a median 0.074 inter-ocular distances from YuNet's eyes
(``bench/liveness.py --challenges``).

Eye aspect ratio (EAR, Soukupova and Cech 2016): the mean of the two eyelid gaps divided by the eye's
width, averaged over both eyes; about 0.3 open, under about 0.2 closed (it varies with the person).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from sightline.errors import ImageError
from sightline.vision.faces.types import Face
from sightline.vision.liveness.crops import check_box

LANDMARK_INPUT = 64
MARGINS = (0.05, 0.0, 0.05, 0.10)  # left, top, right, bottom, in box widths / heights
LEFT_EYE = slice(36, 42)  # the eye on the viewer's left
RIGHT_EYE = slice(42, 48)


class Landmarks68:
    """68 face landmarks from FacePlugin's fr_landmark network (an opened onnxruntime session)."""

    def __init__(self, session) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name

    @staticmethod
    def crop_window(image_w: int, image_h: int, box: Sequence[float]) -> tuple[int, int, int, int]:
        """The crop (x, y, w, h) the network was trained on: the box plus margins, inside the image."""
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        left = int(np.clip(x1 - MARGINS[0] * w, 0, image_w - 1))
        top = int(np.clip(y1 - MARGINS[1] * h, 0, image_h - 1))
        right = int(np.clip(x2 + MARGINS[2] * w, 0, image_w - 1))
        bottom = int(np.clip(y2 + MARGINS[3] * h, 0, image_h - 1))
        return left, top, max(1, right - left), max(1, bottom - top)

    def landmarks(self, image: np.ndarray, face: Face) -> np.ndarray:
        """(68, 2) float array of (x, y) in ``image`` pixels for ``face`` (``image`` uint8 BGR or grey)."""
        if image is None or image.ndim not in (2, 3) or image.size == 0:
            raise ImageError("landmarks need a non-empty BGR or grey image")
        check_box(image.shape, face.box)
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        x, y, w, h = self.crop_window(grey.shape[1], grey.shape[0], face.box)
        crop = cv2.resize(grey[y:y + h, x:x + w], (LANDMARK_INPUT, LANDMARK_INPUT), interpolation=cv2.INTER_LINEAR)
        batch = (crop.astype(np.float32) / 256.0)[None, None]
        points = np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float64).reshape(68, 2)
        return points * (w, h) + (x, y)

    def eye_aspect_ratio(self, image: np.ndarray, face: Face) -> float:
        """Mean eye aspect ratio of both eyes of ``face`` (see :func:`ear_from_landmarks`)."""
        return ear_from_landmarks(self.landmarks(image, face))


def _one_eye(eye: np.ndarray) -> float:
    width = float(np.linalg.norm(eye[0] - eye[3]))
    if width <= 1e-6:
        return 0.0
    return float((np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / (2.0 * width))


def ear_from_landmarks(points: np.ndarray) -> float:
    """Eye aspect ratio averaged over both eyes of 68 iBUG-order landmarks."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {points.shape}")
    return (_one_eye(points[LEFT_EYE]) + _one_eye(points[RIGHT_EYE])) / 2.0


@dataclass(frozen=True)
class Blink:
    """One blink: the frame indices where the eyes closed and where they were open again, and the lowest EAR."""

    closed_at: int
    reopened_at: int
    lowest: float


@dataclass(frozen=True)
class BlinkDetector:
    """Finds blinks (open, closed, open again) in a sequence of EAR values, one per frame.

    The open level is the median EAR of the sequence's open frames, so each person is compared with
    themself: eyes count as closed below ``closed_ratio`` times that level (and below ``closed_max``),
    and open again from ``open_ratio`` times it. A closure longer than ``max_closed_frames`` is not a blink
    (eyes held shut, or the face lost); one before any open frame is not counted.
    """

    closed_ratio: float = 0.6
    open_ratio: float = 0.85
    closed_max: float = 0.2
    max_closed_frames: int = 60
    min_frames: int = 3

    def open_level(self, ears: Sequence[float]) -> float:
        """Median of the values above the sequence's lower third: the person's open-eye EAR."""
        values = np.asarray([e for e in ears if e is not None and np.isfinite(e)], dtype=np.float64)
        if values.size == 0:
            return float("nan")
        return float(np.median(values[values >= np.percentile(values, 33)]))

    def blinks(self, ears: Sequence[float | None]) -> list[Blink]:
        """Every blink in ``ears`` (None marks a frame without a face: it breaks a closure)."""
        if sum(e is not None for e in ears) < self.min_frames:
            return []
        level = self.open_level(ears)
        closed_below = min(self.closed_max, self.closed_ratio * level)
        open_from = self.open_ratio * level
        found: list[Blink] = []
        seen_open, closed_at, lowest = False, -1, 1.0
        for index, ear in enumerate(ears):
            if ear is None:
                seen_open, closed_at = False, -1
                continue
            if closed_at < 0:
                if ear >= open_from:
                    seen_open = True
                elif ear < closed_below and seen_open:
                    closed_at, lowest = index, ear
                continue
            lowest = min(lowest, ear)
            if ear >= open_from:
                if index - closed_at <= self.max_closed_frames:
                    found.append(Blink(closed_at, index, lowest))
                closed_at = -1
        return found

    def blinked(self, ears: Sequence[float | None]) -> bool:
        """True when ``ears`` holds at least one blink."""
        return bool(self.blinks(ears))
