"""Video input and motion gate cost on the real clip.

    python bench/video_speed.py [--clip PATH] [--repeats 5]

Prints PyAV decode throughput of the clip at its native rate and sampled to 5 fps
(every frame is decoded either way; sampling only skips the BGR conversion of
dropped frames), the motion gate's cost per frame at the clip's own size and on
frames resized to 720p and 1080p, and the tracker's cost per update.
Each figure is the median of ``--repeats`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from sightline.video.motion import MotionGate
from sightline.video.sources import FrameSource
from sightline.video.tracker import ByteTracker

DEFAULT_CLIP = (
    Path(os.environ.get("SIGHTLINE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "faces-small/examples/short_hamilton_clip.mp4"
)


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    info = FrameSource(args.clip).open().info
    print(f"clip: {args.clip.name} {info.width}x{info.height} {info.codec} {info.fps:.2f} fps {info.duration_s:.2f} s")
    for fps in (None, 5):
        probe = FrameSource(args.clip, fps=fps)
        src_frames = len(list(probe))
        t = median_time(lambda fps=fps: list(FrameSource(args.clip, fps=fps)), args.repeats)
        label = "native" if fps is None else f"sampled {fps} fps"
        rate = probe.frames_decoded / t
        print(f"decode {label:>15}: {rate:7.0f} decoded frames/s, {src_frames} frames out, {t * 1000:.0f} ms per pass")

    frames = [f.image_bgr for f in FrameSource(args.clip, fps=5)]
    for label, size in (("360p (native)", None), ("720p", (1280, 720)), ("1080p", (1920, 1080))):
        scaled = frames if size is None else [cv2.resize(f, size) for f in frames]
        gate = MotionGate()
        t = median_time(lambda scaled=scaled, gate=gate: [gate(f) for f in scaled], args.repeats)
        print(f"motion gate {label:>13}: {t / len(scaled) * 1000:.2f} ms/frame")

    rng = np.random.default_rng(0)
    centres = rng.uniform(100, 1800, (20, 2))
    boxes_per_frame = [
        np.hstack([centres + 3 * i - 25, centres + 3 * i + 25]) + rng.normal(0, 2, (20, 4)) for i in range(100)
    ]
    scores, classes = np.full(20, 0.9), np.zeros(20, int)

    def track() -> None:
        tracker = ByteTracker()
        for boxes in boxes_per_frame:
            tracker.update(boxes, scores, classes)

    t = median_time(track, args.repeats)
    print(f"tracker, 20 objects: {t / len(boxes_per_frame) * 1000:.2f} ms/update")


if __name__ == "__main__":
    main()
