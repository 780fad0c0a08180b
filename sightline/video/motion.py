"""Cheap motion gate run before any detector (in the spirit of Frigate's).

Each frame is shrunk to a small grey image and blurred, compared with a running
average of the previous frames, and the thresholded, dilated difference is cut
into contours. Frames without large enough contours are "skipped": the caller
need not run detection on them. The first frames calibrate the background and
count as motion; a sudden change of most of the picture (lights switched on,
camera exposure) recalibrates instead of reporting motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from sightline.errors import ConfigError, ImageError

Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """Knobs of the gate; areas are in pixels of the downscaled (``height``-row) image."""

    height: int = 180
    blur_kernel: int = 5
    alpha: float = 0.05
    threshold: int = 25
    min_contour_area: float = 15.0
    dilate_iterations: int = 2
    calibration_frames: int = 3
    lightning_fraction: float = 0.8

    def __post_init__(self) -> None:
        if self.height < 16 or self.blur_kernel < 1 or self.blur_kernel % 2 == 0:
            raise ConfigError("motion height must be >= 16 and blur_kernel a positive odd number")
        if not 0 < self.alpha <= 1 or not 0 < self.threshold < 255:
            raise ConfigError("motion alpha must be in (0, 1] and threshold in (0, 255)")
        if self.min_contour_area < 0 or self.calibration_frames < 1 or not 0 < self.lightning_fraction <= 1:
            raise ConfigError("motion min_contour_area >= 0, calibration_frames >= 1, lightning_fraction in (0, 1]")


@dataclass(frozen=True, slots=True)
class MotionResult:
    """Outcome for one frame; ``boxes`` are in the input frame's pixels."""

    has_motion: bool
    boxes: list[Box] = field(default_factory=list)
    changed_fraction: float = 0.0
    calibrating: bool = False


class MotionGate:
    """Stateful motion detector for one camera; call it on every frame in order."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self.frames_seen = 0
        self.frames_skipped = 0
        self._background: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None
        self._calibrate_left = self.config.calibration_frames
        self._kernel = np.ones((3, 3), np.uint8)

    @property
    def skipped_fraction(self) -> float:
        """Share of frames seen so far that had no motion."""
        return self.frames_skipped / self.frames_seen if self.frames_seen else 0.0

    def reset(self) -> None:
        """Forget the background; the next frames calibrate again."""
        self._background = None
        self._calibrate_left = self.config.calibration_frames

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3) or frame.size == 0:
            raise ImageError("motion gate needs a non-empty uint8 grey or BGR image")
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        h, w = grey.shape
        small_h = min(self.config.height, h)
        small = cv2.resize(grey, (max(1, round(w * small_h / h)), small_h), interpolation=cv2.INTER_AREA)
        k = self.config.blur_kernel
        return cv2.GaussianBlur(small, (k, k), 0) if k > 1 else small

    def __call__(self, frame: np.ndarray) -> MotionResult:
        """Compare ``frame`` (BGR or grey uint8) with the background and update it."""
        cfg = self.config
        small = self._prepare(frame)
        if self._shape != frame.shape[:2]:
            self._shape = frame.shape[:2]
            self.reset()
        self.frames_seen += 1
        current = small.astype(np.float32)
        if self._background is None:
            self._background = current
        background = self._background
        diff = cv2.absdiff(current, background)
        mask = cv2.threshold(diff, cfg.threshold, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        changed = float(np.count_nonzero(mask)) / mask.size
        cv2.accumulateWeighted(current, background, cfg.alpha)
        if self._calibrate_left > 0:
            self._calibrate_left -= 1
            return MotionResult(True, [], changed, calibrating=True)
        if changed >= cfg.lightning_fraction:
            # Most of the picture changed at once: treat as a scene change and recalibrate.
            self._background = current
            self._calibrate_left = cfg.calibration_frames
            return MotionResult(True, [], changed, calibrating=True)
        boxes = self._boxes(mask, frame.shape[1] / small.shape[1], frame.shape[0] / small.shape[0])
        if not boxes:
            self.frames_skipped += 1
        return MotionResult(bool(boxes), boxes, changed)

    def _boxes(self, mask: np.ndarray, sx: float, sy: float) -> list[Box]:
        """Bounding boxes of the large contours, scaled back to full-frame pixels."""
        mask = cv2.dilate(mask, self._kernel, iterations=self.config.dilate_iterations)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes: list[Box] = []
        for contour in contours:
            if cv2.contourArea(contour) < self.config.min_contour_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append((int(x * sx), int(y * sy), int(np.ceil((x + w) * sx)), int(np.ceil((y + h) * sy))))
        return boxes
