"""ByteTrack-style multi-object tracker over per-frame detections.

Each frame, Kalman-predicted tracks are matched to detections by IoU with the
Hungarian algorithm in two passes: confident detections first (against active
and recently lost tracks), then weak detections against the tracks still
unmatched, which keeps objects alive through partial occlusion. Tracks only
match detections of their own class. A track becomes visible (gets an id) after
``min_hits`` consecutive hits and is dropped after ``lost_buffer`` frames unseen.

The tracker is detector-agnostic: it takes plain arrays of boxes, scores and class ids.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.optimize import linear_sum_assignment

from sightline.errors import ConfigError
from sightline.video.kalman import BoxKalman


class TrackState(StrEnum):
    TENTATIVE = "tentative"  # seen, not yet confirmed
    TRACKED = "tracked"  # confirmed and matched this frame
    LOST = "lost"  # confirmed, unmatched for a while, still predicted
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Track:
    """Snapshot of one track after an update; ``box`` is (x1, y1, x2, y2) from the Kalman state.

    ``det_index`` is the row of this frame's detections the track matched (None when lost).
    """

    track_id: int
    box: tuple[float, float, float, float]
    class_id: int
    score: float
    age: int
    hits: int
    frames_since_seen: int
    state: TrackState
    det_index: int | None


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Thresholds: detections at or above ``high_score`` go in the first pass, those in
    [``low_score``, ``high_score``) in the second; only unmatched ones at or above
    ``new_track_score`` start a track. ``match_iou``/``low_match_iou`` are the least IoU to match."""

    high_score: float = 0.5
    low_score: float = 0.1
    new_track_score: float = 0.6
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    min_hits: int = 2
    lost_buffer: int = 30

    def __post_init__(self) -> None:
        if not 0 <= self.low_score <= self.high_score <= 1:
            raise ConfigError("tracker needs 0 <= low_score <= high_score <= 1")
        if self.min_hits < 1 or self.lost_buffer < 0:
            raise ConfigError("tracker needs min_hits >= 1 and lost_buffer >= 0")
        if not all(0 < v < 1 for v in (self.match_iou, self.low_match_iou, self.tentative_match_iou)):
            raise ConfigError("tracker IoU thresholds must be in (0, 1)")


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4), both x1, y1, x2, y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _match(tracks: list[_Tracklet], boxes: np.ndarray, classes: np.ndarray, dets: list[int], min_iou: float):
    """Hungarian matching of ``tracks`` to detection rows ``dets`` (same class, IoU >= min_iou)."""
    if not tracks or not dets:
        return [], list(range(len(tracks))), list(dets)
    iou = iou_matrix(np.array([t.kf.box for t in tracks]), boxes[dets])
    same_class = np.array([t.class_id for t in tracks])[:, None] == classes[dets][None, :]
    iou = np.where(same_class, iou, 0.0)
    rows, cols = linear_sum_assignment(1.0 - iou)
    pairs = [(r, c) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]
    used_t, used_d = {r for r, _ in pairs}, {c for _, c in pairs}
    matches = [(tracks[r], dets[c]) for r, c in pairs]
    left_tracks = [i for i in range(len(tracks)) if i not in used_t]
    return matches, left_tracks, [d for j, d in enumerate(dets) if j not in used_d]


class _Tracklet:
    """Internal mutable track."""

    def __init__(self, box: np.ndarray, class_id: int, score: float) -> None:
        self.kf = BoxKalman(box)
        self.class_id = class_id
        self.score = score
        self.track_id = 0
        self.state = TrackState.TENTATIVE
        self.age = 1
        self.hits = 1
        self.since_seen = 0
        self.det_index: int | None = None

    def hit(self, box: np.ndarray, score: float, det_index: int) -> None:
        self.kf.update(box)
        self.score = score
        self.hits += 1
        self.since_seen = 0
        self.det_index = det_index

    def snapshot(self) -> Track:
        x1, y1, x2, y2 = (float(v) for v in self.kf.box)
        return Track(self.track_id, (x1, y1, x2, y2), self.class_id, self.score, self.age, self.hits,
                     self.since_seen, self.state, self.det_index)  # fmt: skip


class ByteTracker:
    """Multi-object tracker for one camera; call :meth:`update` once per processed frame."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.frame = 0
        self._tracks: list[_Tracklet] = []
        self._ids = itertools.count(1)

    def update(self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray | None = None) -> list[Track]:
        """Feed one frame's detections; returns the confirmed tracks matched in this frame."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        classes = np.zeros(len(boxes), int) if class_ids is None else np.asarray(class_ids).astype(int).reshape(-1)
        if not len(boxes) == len(scores) == len(classes):
            raise ConfigError("boxes, scores and class_ids must have the same length")
        cfg = self.config
        self.frame += 1
        for t in self._tracks:
            t.kf.predict(freeze_height=t.state is not TrackState.TRACKED)
            t.age += 1
            t.since_seen += 1
            t.det_index = None
        high = [i for i in np.argsort(-scores) if scores[i] >= cfg.high_score]
        low = [i for i in np.argsort(-scores) if cfg.low_score <= scores[i] < cfg.high_score]
        confirmed = [t for t in self._tracks if t.state in (TrackState.TRACKED, TrackState.LOST)]
        tentative = [t for t in self._tracks if t.state is TrackState.TENTATIVE]

        # Pass 1: confident detections vs confirmed (tracked and lost) tracks.
        matches, left_t, high = _match(confirmed, boxes, classes, high, cfg.match_iou)
        # Pass 2: weak detections vs tracks that were being tracked and are still unmatched.
        rest = [confirmed[i] for i in left_t if confirmed[i].state is TrackState.TRACKED]
        m2, left2, _ = _match(rest, boxes, classes, low, cfg.low_match_iou)
        matches += m2
        for t, d in matches:
            t.hit(boxes[d], float(scores[d]), int(d))
            t.state = TrackState.TRACKED
        for i in left2:
            rest[i].state = TrackState.LOST
        for i in left_t:
            if confirmed[i].state is TrackState.LOST and confirmed[i].since_seen > cfg.lost_buffer:
                confirmed[i].state = TrackState.REMOVED

        # Tentative tracks need consecutive hits; a miss removes them.
        m3, left3, high = _match(tentative, boxes, classes, high, cfg.tentative_match_iou)
        for t, d in m3:
            t.hit(boxes[d], float(scores[d]), int(d))
            if t.hits >= cfg.min_hits:
                self._confirm(t)
        for i in left3:
            tentative[i].state = TrackState.REMOVED

        for d in high:
            if scores[d] >= cfg.new_track_score:
                t = _Tracklet(boxes[d], int(classes[d]), float(scores[d]))
                t.det_index = int(d)
                if cfg.min_hits <= 1:
                    self._confirm(t)
                self._tracks.append(t)
        self._tracks = [t for t in self._tracks if t.state is not TrackState.REMOVED]
        return [t.snapshot() for t in self._tracks if t.state is TrackState.TRACKED]

    def _confirm(self, t: _Tracklet) -> None:
        t.state = TrackState.TRACKED
        t.track_id = next(self._ids)

    @property
    def tracks(self) -> list[Track]:
        """All live tracks, including tentative and lost ones (for debugging and overlays)."""
        return [t.snapshot() for t in self._tracks]

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so they stay unique)."""
        self._tracks = []
