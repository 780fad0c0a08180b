"""What the object detector hands the video pipeline: weak detections for ByteTrack's second pass, and
event times on the video's own timeline. Real detector (YOLOX-Nano), real photos and the real clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from sightline.video.runner import build_pipeline
from sightline.video.sources import Frame, FrameSource
from sightline.vision.image_io import load_image

RIGHT_MAN = (684, 447, 810, 876)  # bus.jpg: the man at the right edge (YOLOX 0.69 when sharp)
LEFT_EDGE_MAN = (0, 545, 82, 882)  # bus.jpg: a man cut by the left edge (YOLOX ~0.26 in every frame)


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` with the right-hand man out of focus (his score falls to ~0.2-0.35 at sigma 8-9)."""
    out = image.copy()
    out[380:900, 650:810] = cv2.GaussianBlur(image, (0, 0), sigma)[380:900, 650:810]
    return out


def test_weak_detections_keep_a_track_alive_but_start_none(objects_dir, engine) -> None:
    pipeline = build_pipeline("bus-stop", face_engine=engine, face_recognition=False, motion=None,
                              detector="yolox", min_score=0.4)
    assert pipeline.detector.min_score <= pipeline.tracker.config.low_score  # the detector keeps weak boxes
    sharp = load_image(objects_dir / "bus.jpg")
    images = [sharp] * 3 + [blurred(sharp, s) for s in (8, 9, 9, 8, 9)] + [sharp]
    kept, weak_matches = [], 0
    for index, image in enumerate(images):
        result = pipeline.process(Frame(index, index / 5, time.time(), image))
        assert all(d.score >= 0.4 for d in result.detections)  # what is reported keeps its threshold
        # A track is only ever started by a detection at or above new_track_score.
        newborn = [t for t in pipeline.tracker.tracks if t.hits == 1]
        assert all(t.score >= pipeline.tracker.config.new_track_score for t in newborn), newborn
        assert not any(iou(t.box, LEFT_EDGE_MAN) > 0.5 for t in pipeline.tracker.tracks)  # always weak: no track
        man = [t for t in result.tracks if iou(t.box, RIGHT_MAN) > 0.5]
        kept.append(man[0].track_id if man else None)
        weak_matches += sum(1 for t in man if index >= 3 and t.det_index is not None and t.score < 0.4)
    pipeline.finish()
    # Confirmed on the second sharp frame, then carried through five blurred frames by their weak boxes.
    assert kept[0] is None and kept[1] is not None and kept[1:] == [kept[1]] * (len(images) - 1), kept
    assert weak_matches == 5


def _sampled_positions(clip: Path, fps: float) -> list[float]:
    with FrameSource(clip, fps=fps).open() as source:
        return [frame.pts_seconds for frame in source]


def test_video_process_times_events_by_their_position_in_the_video(clip, tmp_path) -> None:
    env = {**os.environ, "SIGHTLINE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "sightline", "video", "process", str(clip), "--fps", "5",
                             "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    origin = datetime.fromisoformat(payload["video_start"])
    positions = _sampled_positions(clip, 5.0)
    duration = positions[-1]

    def offset(stamp: str) -> float:
        return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - origin) / timedelta(seconds=1)

    events = payload["events"]
    assert {e["type"] for e in events} >= {"track_start", "track_end"}
    for event in events:
        for key in ("start_time", "end_time"):
            if event.get(key) is None:
                continue
            at = offset(event[key])
            # Every time is the origin plus the position of an analysed frame (ms rounding in the JSON).
            assert min(abs(at - p) for p in positions) < 0.002, (event["type"], key, at)
            assert 0 <= at <= duration + 0.002
    spans = [offset(e["end_time"]) - offset(e["start_time"]) for e in events if e["type"] == "track_end"]
    assert max(spans) > 1.0  # the stage tracks last seconds of video, however long processing took
    # The cut to the audience at 8.0 s: the stage tracks end there and the audience's start there.
    assert any(7.7 < offset(e["start_time"]) < 8.5 for e in events if e["type"] == "track_start")


@pytest.mark.parametrize("start", [None, datetime(2026, 1, 2, 3, 4, 5).astimezone()])
def test_live_frames_keep_the_wall_clock(objects_dir, engine, start) -> None:
    pipeline = build_pipeline("gate", face_engine=engine, face_recognition=False, motion=None, detector="yolox",
                              video_start=start)
    sharp = load_image(objects_dir / "bus.jpg")
    before = datetime.now().astimezone()
    for index in range(3):
        pipeline.process(Frame(index, 100.0 + index, time.time(), sharp))
    first = next(e for e in pipeline.events if e.type.value == "track_start")
    if start is None:
        assert first.start_time >= before  # live camera: when it happened
    else:
        assert first.start_time == start + timedelta(seconds=101.0)  # file: origin + position (2nd frame)
