"""Frame strips for review items: a few frames across one track's life, every face blurred, one JPEG per track.

While a track lives, :class:`TrackStrips` keeps a bounded, evenly spread sample of its frames (a copy no larger
than 640 px, with the face boxes found on that frame): every frame at first, and each time the sample is full,
every other one is dropped and the stride doubles. When the track ends, :func:`compose_strip` blurs **every**
face on each chosen frame, twice as strongly as snapshots (enrolled people too: the strip shows what happened,
the best snapshot shows who; every chosen frame is searched again, small, as a tile and in the strip), and lays
the frames side by side. The strip is written next to the snapshots (same folder, same retention:
``purge_snapshot_files``) and named in the ``track_end`` event's ``data["strip"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from sightline.privacy.redact import blur_regions

Box = Sequence[float]
STRIP_FRAMES = 5  # frames in a strip
KEEP = 12  # frames held per live track before thinning
SAMPLE_SIDE = 640  # frames are held (and faces searched) at most this large
TILE_HEIGHT = 180  # each frame's height in the strip
GAP = 4  # pixels between frames
BLUR_STRENGTH = 2.0  # twice the snapshots' blur: a strip frame is small and never needs a face


@dataclass
class _Sample:
    image: np.ndarray
    faces: list[Box] | None  # in the copy's pixels; None: faces were not searched on this frame
    when: datetime


class TrackStrips:
    """An evenly spread sample of frames per live track (memory: at most ``keep`` small copies per track)."""

    def __init__(self, *, frames: int = STRIP_FRAMES, keep: int = KEEP) -> None:
        if frames < 1 or keep < 2 * frames:
            raise ValueError("a strip needs frames >= 1 and keep >= 2 * frames")
        self.frames, self.keep = frames, keep
        self._samples: dict[int, list[_Sample]] = {}
        self._stride: dict[int, int] = {}
        self._seen: dict[int, int] = {}

    def offer(self, track_id: int, image: np.ndarray, faces: Sequence[Box] | None, when: datetime) -> None:
        """A frame on which ``track_id`` was detected; ``faces``: the face boxes found on it (None: not searched)."""
        seen = self._seen.get(track_id, 0)
        self._seen[track_id] = seen + 1
        stride = self._stride.get(track_id, 1)
        if seen % stride:
            return
        samples = self._samples.setdefault(track_id, [])
        samples.append(_shrink(image, faces, when))
        if len(samples) >= self.keep:
            self._samples[track_id] = samples[::2]
            self._stride[track_id] = stride * 2

    def pop(self, track_id: int) -> list[_Sample]:
        """Up to ``frames`` samples spread evenly from the track's first to its last kept frame; forgets it."""
        samples = self._samples.pop(track_id, [])
        self._stride.pop(track_id, None)
        self._seen.pop(track_id, None)
        if len(samples) <= self.frames:
            return samples
        picks = np.linspace(0, len(samples) - 1, self.frames).round().astype(int)
        return [samples[i] for i in dict.fromkeys(picks.tolist())]

    def __len__(self) -> int:
        return len(self._samples)


def _shrink(image: np.ndarray, faces: Sequence[Box] | None, when: datetime) -> _Sample:
    height, width = image.shape[:2]
    scale = min(1.0, SAMPLE_SIDE / max(height, width))
    if scale >= 1.0:
        return _Sample(image.copy(), None if faces is None else [tuple(b[:4]) for b in faces], when)
    small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    boxes = None if faces is None else [tuple(float(v) * scale for v in b[:4]) for b in faces]
    return _Sample(small, boxes, when)


def compose_strip(samples: Sequence[_Sample], find_faces: Callable[[np.ndarray], list[Box]]) -> np.ndarray | None:
    """The samples side by side, each with every face blurred: the faces found on the frame when it was seen plus
    those ``find_faces`` finds on the small copy and on the tile itself (a face the camera's pass missed, e.g. a
    profile cut by the frame edge, is still blurred: detectors find different faces at different sizes)."""
    tiles = []
    for sample in samples:
        height, width = sample.image.shape[:2]
        scale = TILE_HEIGHT / height
        tile = cv2.resize(sample.image, (max(1, round(width * scale)), TILE_HEIGHT), interpolation=cv2.INTER_AREA)
        faces = [tuple(float(v) * scale for v in box[:4]) for box in [*(sample.faces or []), *find_faces(sample.image)]]
        faces += [tuple(box[:4]) for box in find_faces(tile)]
        tiles.append(blur_regions(tile, faces, method="gaussian", strength=BLUR_STRENGTH) if faces else tile)
    if not tiles:
        return None
    gap = np.full((TILE_HEIGHT, GAP, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for tile in tiles:
        parts += [tile, gap]
    strip = np.hstack(parts[:-1])
    last = [tuple(box[:4]) for box in find_faces(strip)]  # and once more on exactly what is stored
    return blur_regions(strip, last, method="gaussian", strength=BLUR_STRENGTH) if last else strip
