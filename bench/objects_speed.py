"""Latency of each object and face detector on the sample photos, plus a label count on them.

    python bench/objects_speed.py [--runs 20] [--warmup 3] [--threads N] [--objects yolox,nanodet,centernet]
                                  [--faces yunet-dlib,dlib] [--json]

For every detector and every image: ``--warmup`` untimed calls, then ``--runs``
timed calls of ``detector.detect(bgr)`` (decoding excluded; ``time.perf_counter``),
taken round-robin over all detector/image pairs so that load from other
processes hits every detector alike, reported as p50/p95 in milliseconds. Object detectors run on
``objects-small/*.jpg``; the face detectors (YuNet and dlib HOG, through
``FaceEngine(backend).detector``) on a few ``faces-small`` photos.

Labels found (not an accuracy figure: boxes are not checked; bench/coco.py
measures mAP on COCO images): on each objects-small photo, the objects a person sees in it
(bus.jpg: a bus and four people, one cut by the left edge; zidane.jpg: two
people; person.jpg: a person, a dog and a horse; dog.jpg: a dog, a bicycle and
a pick-up that COCO calls car or truck) are matched by label and count against
the detections at the detector's default threshold. "extra" counts the other
detections (wrong labels, duplicate labels of one object, small background
objects): a rough false-positive figure, not a precision.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine_summary, markdown_table, median_p95, timed  # noqa: E402

from sightline import FaceEngine  # noqa: E402
from sightline.models.zoo import build_object_detector  # noqa: E402
from sightline.vision.image_io import load_image  # noqa: E402

# What each sample photo shows: (labels that count, how many). Labels in one group are alternatives.
EXPECTED: dict[str, list[tuple[frozenset[str], int]]] = {
    "bus.jpg": [(frozenset({"bus"}), 1), (frozenset({"person"}), 4)],
    "zidane.jpg": [(frozenset({"person"}), 2)],
    "person.jpg": [(frozenset({"person"}), 1), (frozenset({"dog"}), 1), (frozenset({"horse"}), 1)],
    "dog.jpg": [(frozenset({"dog"}), 1), (frozenset({"bicycle"}), 1), (frozenset({"car", "truck"}), 1)],
}
FACE_IMAGES = ("group_six_people.jpg", "examples/two_people.jpg", "examples/obama-1080p.jpg",
               "examples/obama-240p.jpg")


@dataclass
class Row:
    """Latency of one detector on one image."""

    kind: str
    detector: str
    image: str
    size: str
    found: int
    p50_ms: float
    p95_ms: float


@dataclass
class Case:
    """One detector on one decoded image, and its timings so far."""

    kind: str
    detector: str
    detect: Callable[[np.ndarray], list]
    path: Path
    pixels: np.ndarray
    times: list[float] = field(default_factory=list)
    result: list = field(default_factory=list)

    def row(self) -> Row:
        p50, p95 = median_p95(self.times)
        height, width = self.pixels.shape[:2]
        return Row(self.kind, self.detector, self.path.name, f"{width}x{height}", len(self.result),
                   round(p50, 1), round(p95, 1))


def run_cases(cases: list[Case], runs: int, warmup: int) -> None:
    """Warm every case up, then time them round-robin so load drift on the machine hits all alike."""
    for case in cases:
        for _ in range(warmup):
            case.result = case.detect(case.pixels)
    for _ in range(runs):
        for case in cases:
            case.result, ms = timed(lambda c=case: c.detect(c.pixels))
            case.times.append(ms)


def recall(image: str, labels: list[str]) -> tuple[int, int, int]:
    """(matched, expected, extra) for the detected ``labels`` of sample ``image``."""
    remaining = list(labels)
    matched = expected = 0
    for group, count in EXPECTED[image]:
        expected += count
        for _ in range(count):
            hit = next((label for label in remaining if label in group), None)
            if hit is not None:
                remaining.remove(hit)
                matched += 1
    return matched, expected, len(remaining)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: cores)")
    parser.add_argument("--objects", default="yolox,nanodet,centernet")
    parser.add_argument("--faces", default="yunet-dlib,dlib", help="face backends whose detector is timed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    objects_dir, faces_dir = data_dir() / "objects-small", data_dir() / "faces-small"
    cases: list[Case] = []
    object_detectors = {n: build_object_detector(n, threads=args.threads) for n in args.objects.split(",") if n}
    for name, detector in object_detectors.items():
        cases += [Case("object", name, detector.detect, objects_dir / image, load_image(objects_dir / image))
                  for image in EXPECTED]
    for backend in [b for b in args.faces.split(",") if b]:
        detector = FaceEngine(backend).detector
        cases += [Case("face", f"{detector.name} (faces)", detector.detect, faces_dir / image,
                       load_image(faces_dir / image)) for image in FACE_IMAGES]
    run_cases(cases, args.runs, args.warmup)
    rows = [case.row() for case in cases]
    recall_rows = []
    for name, detector in object_detectors.items():
        totals = np.zeros(3, dtype=int)
        for case in cases:
            if case.kind == "object" and case.detector == name:
                totals += recall(case.path.name, [d.label for d in case.result])
        recall_rows.append((name, detector.min_score, f"{totals[0]}/{totals[1]}", int(totals[2])))

    if args.json:
        print(json.dumps({"machine": machine_summary(), "runs": args.runs, "rows": [asdict(r) for r in rows],
                          "recall": [dict(zip(("detector", "min_score", "recall", "extra"), r, strict=True))
                                     for r in recall_rows]}, indent=2, default=str))
        return
    print(f"Machine: {machine_summary()}; {args.runs} timed runs after {args.warmup} warm-up, "
          f"threads={args.threads or 'auto'}\n")
    print(markdown_table(("detector", "image", "size", "found", "p50 ms", "p95 ms"),
                         [(r.detector, r.image, r.size, r.found, r.p50_ms, r.p95_ms) for r in rows]))
    print()
    print(markdown_table(("object detector", "min score", "labels found on samples (no box check)", "extra detections"),
                         recall_rows))


if __name__ == "__main__":
    main()
