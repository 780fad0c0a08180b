"""Vehicle passages on short videos made from plates-dev photos: one passage per car, voted plate exact, speed.

    python bench/plates_video.py [--regions eu,us] [--limit 30] [--frames 5] [--threads 1]

Each photo becomes ``--frames`` frames at its own resolution (a window zooming in 10 % while panning left to
right, like a car nearing a camera), fed through the camera pipeline with plates on (the default object
detector and tracker, ``build_pipeline(..., plates=...)``, plain text kept for scoring). Two ways:

- full resolution: the frames as they are; the stage cuts plate crops from them (what Sightline does);
- 640-px frames: the same frames downscaled to 640 px wide first (what a reader cutting crops from a
  detector-sized stream would get).

Counted per video: a passage whose voted plate equals the ground truth ("exact"), within one character,
and how many passages the video gave (one car: one passage). ms/frame is wall time of the whole pipeline
(detector, tracker, plate reads, driver faces), measured on a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from common import machine_summary, markdown_table


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def frames_of(photo: np.ndarray, count: int, zoom: float = 1.1) -> list[np.ndarray]:
    """``count`` frames of ``photo`` at its own size: zooming in by ``zoom`` while panning left to right."""
    height, width = photo.shape[:2]
    out = []
    for i in range(count):
        t = i / max(count - 1, 1)
        scale = 1.0 + (zoom - 1.0) * t
        w, h = width / scale, height / scale
        x0, y0 = (width - w) * t, (height - h) * 0.5
        window = photo[int(y0):int(y0 + h), int(x0):int(x0 + w)]
        out.append(cv2.resize(window, (width, height), interpolation=cv2.INTER_CUBIC))
    return out


def shrink(image: np.ndarray, width: int = 640) -> np.ndarray:
    if image.shape[1] <= width:
        return image
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def run_region(region: str, data: Path, limit: int, count: int, threads: int, modes: str = "both",
               verbose: bool = False) -> list[list[str]]:
    from sightline.engine import FaceEngine
    from sightline.plates.config import PlatesConfig
    from sightline.plates.service import build_plate_reader
    from sightline.video.runner import build_pipeline, run
    from sightline.video.sources import Frame

    truths = []
    for txt in sorted((data / region).glob("*.txt"))[:limit]:
        name, *_, plate = txt.read_text().strip().split("\t")[:6]
        truths.append((data / region / name, plate))
    settings = PlatesConfig(enabled=True, region=region, store_plain_text=True)
    reader = build_plate_reader(region, vehicles=False, threads=threads)
    faces = FaceEngine()
    rows = []
    ways = [("full resolution", lambda im: im), ("640-px frames", shrink)]
    for mode, prepare in ways if modes == "both" else ways[:1]:
        exact = near = single = 0
        ms: list[float] = []
        for path, plate in truths:
            frames = [prepare(f) for f in frames_of(cv2.imread(str(path)), count)]
            pipeline = build_pipeline("bench", face_engine=faces, classes=["person"], motion=None,
                                      face_recognition=False, plates=settings, detector_threads=threads)
            pipeline.plates.reader = reader
            started = time.perf_counter()
            run(pipeline, [Frame(i, i / 5.0, time.time(), f) for i, f in enumerate(frames)])
            ms.append((time.perf_counter() - started) * 1000 / len(frames))
            voted = [e.data["plate"] for e in pipeline.events if e.type.value == "vehicle_passage"]
            single += len(voted) == 1
            exact += plate in voted
            near += any(v is not None and _levenshtein(v, plate) <= 1 for v in voted)
            if verbose:
                labels = [e.label for e in pipeline.events if e.type.value == "track_start"]
                print(f"{mode}\t{path.name}\t{plate}\t{voted}\ttracks={labels}", flush=True)
        n = len(truths)
        rows.append([region.upper(), mode, f"{exact}/{n} ({100 * exact / n:.1f} %)",
                     f"{near}/{n} ({100 * near / n:.1f} %)", f"{single}/{n}",
                     f"{statistics.median(ms):.0f} / {statistics.mean(ms):.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", default="eu,us")
    parser.add_argument("--limit", type=int, default=30, help="videos per region (first N photos by name)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--full-only", action="store_true", help="only the full-resolution way")
    parser.add_argument("--verbose", action="store_true", help="one line per video: truth, voted plates, tracks")
    args = parser.parse_args()
    from sightline.privacy.crypto import encode_key, generate_key

    os.environ.setdefault("SIGHTLINE_PLATE_KEY", encode_key(generate_key()))  # never touches a data home
    data = Path(os.environ.get("SIGHTLINE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    rows = []
    for region in args.regions.split(","):
        rows += run_region(region.strip(), data / "plates-dev", args.limit, args.frames, args.threads,
                           "full" if args.full_only else "both", args.verbose)
    print(machine_summary())
    print(markdown_table(["region", "crops from", "one passage, voted plate exact", "within 1 char",
                          "videos with exactly one passage", "wall ms/frame median / mean"], rows))


if __name__ == "__main__":
    main()
