"""ByteTrack-style tracker on synthetic moving boxes with jitter, crossings and occlusions."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.errors import ConfigError
from sightline.video.tracker import ByteTracker, TrackerConfig, TrackState, iou_matrix

RNG_SEED = 7


def box_at(cx: float, cy: float, w: float = 50, h: float = 100) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def run(tracker, frames):
    """frames: list of lists of (box, score, class_id). Returns per-frame {det_index: track}."""
    out = []
    for dets in frames:
        boxes = np.array([d[0] for d in dets]).reshape(-1, 4)
        tracks = tracker.update(boxes, np.array([d[1] for d in dets]), np.array([d[2] for d in dets], int))
        out.append({t.det_index: t for t in tracks})
    return out


def crossing(n=60, gap=(), jitter=2.0, classes=(0, 0), score_b=0.85):
    """Object A walks right, B walks left on nearly the same row; they cross mid-way."""
    rng = np.random.default_rng(RNG_SEED)
    frames = []
    for f in range(n):
        a = np.array(box_at(50 + 6 * f, 200)) + rng.normal(0, jitter, 4)
        b = np.array(box_at(410 - 6 * f, 215)) + rng.normal(0, jitter, 4)
        dets = [(b, score_b, classes[1])]
        if f not in gap:
            dets.insert(0, (a, 0.9, classes[0]))
        frames.append(dets)
    return frames


def ids_of(results, det_index):
    return [r[det_index].track_id for r in results if det_index in r]


def test_crossing_objects_keep_their_ids():
    results = run(ByteTracker(), crossing())
    assert results[0] == {}  # born after 2 hits
    a, b = ids_of(results, 0), ids_of(results, 1)
    assert len(a) == len(b) == 59
    assert set(a) == {1} and set(b) == {2}


def test_track_survives_5_frame_occlusion_and_keeps_id():
    gap = range(20, 25)  # A hidden while it overlaps B
    results = run(ByteTracker(TrackerConfig(lost_buffer=10)), crossing(gap=gap))
    a_ids = [r[0].track_id for f, r in enumerate(results) if f not in gap and f > 0]
    assert set(a_ids) == {1}
    for f in gap:  # only B is reported during the gap, with its own id
        assert [t.track_id for t in results[f].values()] == [2]


def test_lost_buffer_shorter_than_gap_gives_new_id():
    gap = range(20, 25)
    results = run(ByteTracker(TrackerConfig(lost_buffer=3)), crossing(gap=gap))
    a_ids = [r[0].track_id for f, r in enumerate(results) if f not in gap and f > 0 and 0 in r]
    assert a_ids[0] == 1 and a_ids[-1] == 3  # the old track was dropped; a fresh one took over


def test_lost_track_is_predicted_along_its_motion():
    tracker = ByteTracker(TrackerConfig(lost_buffer=10))
    run(tracker, crossing(n=20))
    run(tracker, [[(box_at(410 - 6 * f, 215), 0.85, 0)] for f in range(20, 23)])
    (lost,) = [t for t in tracker.tracks if t.state is TrackState.LOST]
    cx = (lost.box[0] + lost.box[2]) / 2
    assert lost.track_id == 1 and lost.frames_since_seen == 3
    assert cx == pytest.approx(50 + 6 * 22, abs=8)  # kept moving right at ~6 px/frame while unseen


def test_different_classes_never_swap():
    # A person and a dog cross with heavy overlap and jitter; even when the dog's box is the
    # closer match to the person's track, ids stay bound to their class.
    frames = crossing(classes=(0, 16), jitter=6.0)
    for f in range(28, 33):  # at the crossing, put the detections exactly on top of each other
        frames[f] = [(frames[f][0][0], 0.9, 0), (frames[f][0][0] + 1.0, 0.85, 16)]
    tracker = ByteTracker()
    results = run(tracker, frames)
    class_of: dict[int, int] = {}
    for f, r in enumerate(results):
        for det_index, t in r.items():
            assert t.class_id == frames[f][det_index][2]
            assert class_of.setdefault(t.track_id, t.class_id) == t.class_id
    assert class_of == {1: 0, 2: 16}


def test_low_score_detections_keep_track_alive():
    frames = crossing(score_b=0.85)
    for f in range(30, 40):  # B partly occluded: detector confidence drops below high_score
        frames[f][1] = (frames[f][1][0], 0.3, 0)
    results = run(ByteTracker(), frames)
    assert [r[1].track_id for r in results[1:]] == [2] * 59
    assert results[35][1].score == pytest.approx(0.3)
    assert results[35][1].state is TrackState.TRACKED


def test_birth_after_min_hits_and_false_positive_never_gets_an_id():
    tracker = ByteTracker(TrackerConfig(min_hits=3))
    seen = []
    for f in range(6):
        dets = [(box_at(100 + 3 * f, 100), 0.9, 0)]
        if f == 2:
            dets.append((box_at(400, 300), 0.95, 0))  # a one-frame flicker
        seen.append(run(tracker, [dets])[0])
    assert [list(r) for r in seen] == [[], [], [0], [0], [0], [0]]
    assert {t.track_id for r in seen for t in r.values()} == {1}
    assert seen[5][0].hits == 6 and seen[5][0].age == 6


def test_weak_detections_do_not_start_tracks():
    tracker = ByteTracker()
    for _ in range(5):
        assert tracker.update(np.array([box_at(100, 100)]), np.array([0.4]), np.array([0])) == []
    assert tracker.tracks == []


def test_empty_frames_and_bad_input():
    tracker = ByteTracker()
    assert tracker.update(np.zeros((0, 4)), np.zeros(0), np.zeros(0)) == []
    with pytest.raises(ConfigError):
        tracker.update(np.zeros((2, 4)), np.zeros(1), np.zeros(2))
    with pytest.raises(ConfigError):
        TrackerConfig(low_score=0.6, high_score=0.5)


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[1 / 3, 1, 0], [0, 0, 0]])
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_real_face_detections_on_the_clip_keep_ids(engine, faces_dir):
    """Faces found by the real detector at 5 fps: one id through the long close-up, no swaps in the group shot."""
    from sightline.video.sources import FrameSource

    tracker = ByteTracker()
    history: dict[int, list[tuple[int, float, float, float]]] = {}
    for frame in FrameSource(faces_dir / "examples" / "short_hamilton_clip.mp4", fps=5):
        faces = engine.detect_array(frame.image_bgr, embed=False)
        boxes = np.array([f.box for f in faces], float).reshape(-1, 4)
        for t in tracker.update(boxes, np.array([f.score for f in faces]), np.zeros(len(faces), int)):
            x1, y1, x2, y2 = boxes[t.det_index]
            history.setdefault(t.track_id, []).append((frame.index, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1))
    close_up = {tid for tid, h in history.items() for i, *_ in h if 84 <= i <= 210}
    assert len(close_up) == 1  # frames 84-210: one person, one id
    group = {tid: [p for p in h if p[0] >= 222] for tid, h in history.items()}
    group = {tid: h for tid, h in group.items() if len(h) >= 5}
    assert len(group) >= 4  # the group shot's faces are tracked for most of it
    for h in group.values():  # each id stays on the same face: small steps between samples
        for (_, xa, ya, w), (_, xb, yb, _) in zip(h, h[1:], strict=False):
            assert np.hypot(xb - xa, yb - ya) < 0.3 * w
