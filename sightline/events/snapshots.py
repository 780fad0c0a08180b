"""Event snapshots: the best frame of a track, written as JPEG with unknown faces blurred.

By default the writer finds *every* face in the frame itself (with the face
engine it is given) and blurs each one that is not an enrolled match, so a
face outside any tracked box, or one the caller forgot, is never stored in
the clear. Only faces the caller names as enrolled matches (``enrolled_boxes``)
stay sharp.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sightline.errors import ConfigError, ImageError
from sightline.events.models import as_utc, utcnow
from sightline.events.sink import EventSink
from sightline.privacy.redact import blur_regions

__all__ = ["BestFrames", "EventSink", "SnapshotWriter", "blur_faces", "box_iou", "purge_snapshot_files"]

Box = Sequence[float]
ENROLLED_IOU = 0.5  # a detected face is the enrolled match when it overlaps the matched box this much
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def blur_faces(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """A copy of ``image`` with each face box (grown a little) blurred beyond recognition."""
    return blur_regions(image, boxes, method="gaussian")


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _face_finder(engine: Any) -> Callable[[np.ndarray], list[Box]] | None:
    if engine is None:
        return None
    if hasattr(engine, "detect_array"):
        return lambda image: [face.box for face in engine.detect_array(image, embed=False)]
    if callable(engine):
        return engine
    raise ConfigError("face_detector must be a FaceEngine or a callable returning face boxes")


class SnapshotWriter:
    """Writes snapshots under ``root/<camera>/<YYYY-MM-DD>/<name>.jpg``."""

    def __init__(self, root: str | Path, *, face_detector: Any = None, blur_unknown_faces: bool = True,
                 jpeg_quality: int = 90) -> None:
        self.root = Path(root).expanduser()
        self.find_faces = _face_finder(face_detector)
        self.blur_unknown_faces = blur_unknown_faces
        self.jpeg_quality = int(jpeg_quality)

    def write(self, image: np.ndarray, *, camera: str, name: str, when: datetime | None = None,
              faces: Sequence[Box] | None = None, enrolled_boxes: Sequence[Box] = (),
              crop: Box | None = None, crop_margin: float = 0.2) -> Path:
        """Save ``image`` (BGR) with every face not in ``enrolled_boxes`` blurred; returns the file path.

        ``faces`` are the face boxes in the frame; when None the writer detects
        them itself (it then needs a ``face_detector``). ``crop`` keeps only that
        box (grown by ``crop_margin``), after blurring.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype != np.uint8 or image.size == 0:
            raise ImageError("a snapshot needs a non-empty uint8 BGR image")
        out = image
        if self.blur_unknown_faces:
            if faces is None:
                if self.find_faces is None:
                    raise ConfigError("blurring unknown faces needs the face boxes or a face_detector")
                faces = self.find_faces(image)
            unknown = [box for box in faces
                       if not any(box_iou(box, keep) >= ENROLLED_IOU for keep in enrolled_boxes)]
            if unknown:
                out = blur_faces(image, unknown)
        if crop is not None:
            out = _crop(out, crop, crop_margin)
        day = as_utc(when or utcnow()).strftime("%Y-%m-%d")
        path = self.root / _SAFE.sub("_", camera) / day / f"{_SAFE.sub('_', name)}.jpg"
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise ImageError("could not encode the snapshot as JPEG")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".jpg.tmp")
        tmp.write_bytes(encoded.tobytes())
        os.replace(tmp, path)
        return path


def _crop(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    h, w = image.shape[:2]
    grow_x, grow_y = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    x1, y1 = max(int(box[0] - grow_x), 0), max(int(box[1] - grow_y), 0)
    x2, y2 = min(int(np.ceil(box[2] + grow_x)), w), min(int(np.ceil(box[3] + grow_y)), h)
    if x2 <= x1 or y2 <= y1:
        return image
    return image[y1:y2, x1:x2]


@dataclass
class _Candidate:
    score: float
    image: np.ndarray
    box: tuple[float, float, float, float]
    when: datetime


class BestFrames:
    """Keeps, per track, a copy of the frame where it looked best (highest ``score``, e.g. detection score
    times box area, or face quality); memory is one frame per live track."""

    def __init__(self) -> None:
        self._best: dict[int, _Candidate] = {}

    def offer(self, track_id: int, image: np.ndarray, box: Box, score: float, when: datetime | None = None) -> bool:
        """Remember this frame if it beats the track's best so far; True when it was kept."""
        current = self._best.get(track_id)
        if current is not None and score <= current.score:
            return False
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        self._best[track_id] = _Candidate(float(score), image.copy(), (x1, y1, x2, y2), when or utcnow())
        return True

    def best(self, track_id: int) -> tuple[np.ndarray, tuple[float, float, float, float], datetime] | None:
        """(frame, box, time) of the track's best frame, or None."""
        c = self._best.get(track_id)
        return None if c is None else (c.image, c.box, c.when)

    def pop(self, track_id: int) -> tuple[np.ndarray, tuple[float, float, float, float], datetime] | None:
        """Like :meth:`best`, and forget the track."""
        c = self._best.pop(track_id, None)
        return None if c is None else (c.image, c.box, c.when)

    def __len__(self) -> int:
        return len(self._best)


def purge_snapshot_files(root: str | Path, older_than_days: float, *, now: float | None = None) -> int:
    """Delete ``*.jpg`` under ``root`` last modified more than ``older_than_days`` ago (files no event row
    references, e.g. after a crash, are caught too); returns how many were deleted."""
    if older_than_days <= 0:
        raise ConfigError("snapshot retention must be more than 0 days")
    root = Path(root)
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - older_than_days * 86400
    deleted = 0
    for path in root.rglob("*.jpg"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            continue
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # only empty folders go
            folder.rmdir()
    return deleted
