"""Motion gate on the real clip: stills are skipped, real movement is found where it happens."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sightline.errors import ConfigError, ImageError
from sightline.video.motion import MotionConfig, MotionGate
from sightline.video.sources import FrameSource


@pytest.fixture(scope="module")
def frames(faces_dir: Path) -> list[np.ndarray]:
    """The clip at 5 fps (46 real 640x360 frames)."""
    return [f.image_bgr for f in FrameSource(faces_dir / "examples" / "short_hamilton_clip.mp4", fps=5)]


def test_still_frame_is_skipped_after_calibration(frames):
    gate = MotionGate(MotionConfig(calibration_frames=3))
    results = [gate(frames[20]) for _ in range(30)]
    assert all(r.has_motion and r.calibrating for r in results[:3])
    assert not any(r.has_motion for r in results[3:])
    assert all(r.changed_fraction == 0 and r.boxes == [] for r in results[3:])
    assert gate.frames_seen == 30 and gate.frames_skipped == 27
    assert gate.skipped_fraction == pytest.approx(0.9)


def test_real_clip_has_motion(frames):
    gate = MotionGate()
    results = [gate(f) for f in frames]
    moving = [r for r in results if not r.calibrating]
    assert sum(r.has_motion for r in moving) >= 0.8 * len(moving)
    assert gate.skipped_fraction < 0.2
    for r in moving:
        for x1, y1, x2, y2 in r.boxes:
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360


def test_moving_patch_is_boxed_and_still_background_is_not(frames):
    """A real image patch sliding over a still real background: motion only where it moves."""
    background = frames[5]
    patch = frames[30][100:180, 250:330]  # 80x80 of real pixels from another shot
    gate = MotionGate()
    for _ in range(5):
        gate(background)
    for step in range(10):
        x = 40 + 30 * step
        img = background.copy()
        img[200:280, x : x + 80] = patch
        result = gate(img)
        assert result.has_motion, step
        # The union of the motion boxes covers the patch and stays near it .
        xs1, ys1, xs2, ys2 = np.array(result.boxes).T
        assert xs1.min() <= x + 10 and xs2.max() >= x + 70 and ys1.min() <= 210 and ys2.max() >= 270
        assert xs1.min() >= x - 40 and xs2.max() <= x + 110 and ys1.min() >= 170 and ys2.max() <= 310
        assert result.changed_fraction < 0.1
    for _ in range(60):
        last = gate(img)  # the patch stops: the background absorbs it
    assert not last.has_motion


def test_boxes_are_in_input_pixels_at_1080p(frames):
    gate = MotionGate()
    big = [cv2.resize(f, (1920, 1080)) for f in (frames[5], frames[5], frames[5], frames[5])]
    for img in big:
        gate(img)
    img = big[0].copy()
    img[600:840, 960:1200] = 255 - img[600:840, 960:1200]
    (x1, y1, x2, y2), *_ = gate(img).boxes
    assert abs(x1 - 960) < 40 and abs(y1 - 600) < 40 and abs(x2 - 1200) < 40 and abs(y2 - 840) < 40


def test_sudden_global_change_recalibrates(frames):
    gate = MotionGate(MotionConfig(calibration_frames=2))
    for _ in range(4):
        gate(frames[10])
    lit = cv2.add(frames[10], np.full_like(frames[10], 120))  # lights switched on
    first = gate(lit)
    assert first.calibrating and first.changed_fraction >= 0.8
    later = [gate(lit) for _ in range(5)]
    assert not later[-1].has_motion


def test_bad_input_and_config():
    with pytest.raises(ImageError):
        MotionGate()(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ImageError):
        MotionGate()(np.zeros((10, 10), np.float32))
    with pytest.raises(ConfigError):
        MotionConfig(blur_kernel=4)
    with pytest.raises(ConfigError):
        MotionConfig(alpha=0)
