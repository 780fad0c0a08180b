"""COCO box accuracy of each object detector with pycocotools, plus its latency, on ``coco-dev``.

    python bench/coco.py [--backends yolox,nanodet,centernet] [--data DIR] [--min-score 0.01] [--threads N]
                         [--limit N] [--onnx LABEL=BACKEND:FILE ...] [--json]

``DIR`` (default ``$SIGHTLINE_DATA/coco-dev``) holds ``images/`` and ``instances_val2017.json``
(79 COCO val2017 images, 624 boxes): a small sample, so the figures are rough (a few images move
them by points) and not comparable with published full-val2017 numbers.

Each image is decoded once (not timed) and passed to ``detector.detect(bgr)`` once, timed with
``time.perf_counter``; "ms/image" is the median and p95 of those calls. Detections are kept from
``--min-score`` up (0.01 by default, with at most 100 per image: the usual way to score mAP) and
scored by pycocotools' ``COCOeval`` (bbox) for mAP@[.5:.95] and mAP@.5; the same detections cut at
the backend's default operating threshold (``detector.default_min_score``) are scored again, which
is what ``sightline objects detect`` returns without ``--min-score``. Labels map to COCO category
ids by name. ``--onnx int8=yolox:/path/yolox_int8.onnx`` also scores another ONNX file (an int8
candidate from ``sightline models quantize``) run by a registered backend's code, reported as LABEL.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine_summary, markdown_table, median_p95, timed  # noqa: E402

from sightline.models.onnx import create_session  # noqa: E402
from sightline.models.zoo import build_object_detector  # noqa: E402
from sightline.vision.image_io import load_image  # noqa: E402


@dataclass
class Score:
    """pycocotools' bbox summary for one backend, and its latency."""

    backend: str
    images: int
    boxes: int
    min_score: float
    map_50_95: float
    map_50: float
    operating_score: float
    map_50_95_operating: float
    map_50_operating: float
    p50_ms: float
    p95_ms: float


def evaluate(ground_truth, detections: list[dict], image_ids: list[int]) -> tuple[float, float]:
    """(mAP@[.5:.95], mAP@.5) of ``detections`` (COCO result dicts) over ``image_ids``."""
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and its own summary
        results = ground_truth.loadRes(detections)
        evaluation = COCOeval(ground_truth, results, "bbox")
        evaluation.params.imgIds = image_ids
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0]), float(evaluation.stats[1])


def run_backend(name: str, ground_truth, images: dict[int, Path], min_score: float, threads: int | None,
                model_file: Path | None = None, label: str | None = None) -> Score:
    """Detect on every image with backend ``name`` (on ``model_file`` if given) and score the boxes."""
    category = {c["name"]: c["id"] for c in ground_truth.loadCats(ground_truth.getCatIds())}
    detector = build_object_detector(name, min_score=min_score, max_detections=100, threads=threads)
    if model_file is not None:  # same pre/post-processing, other weights (same input and output names)
        detector.session = create_session(model_file, threads=threads)
    operating = float(type(detector).default_min_score)
    detector.detect(load_image(next(iter(images.values()))))  # warm-up, not timed
    detections: list[dict] = []
    times: list[float] = []
    for image_id, path in images.items():
        pixels = load_image(path)
        found, ms = timed(lambda p=pixels: detector.detect(p))
        times.append(ms)
        for d in found:
            x1, y1, x2, y2 = (float(v) for v in d.box)
            detections.append({"image_id": image_id, "category_id": category[d.label],
                               "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(d.score)})
    ids = list(images)
    full = evaluate(ground_truth, detections, ids)
    cut = evaluate(ground_truth, [d for d in detections if d["score"] >= operating], ids)
    p50, p95 = median_p95(times)
    boxes = len(ground_truth.getAnnIds(imgIds=ids, iscrowd=False))
    return Score(label or name, len(ids), boxes, min_score, round(full[0], 3), round(full[1], 3), operating,
                 round(cut[0], 3), round(cut[1], 3), round(p50, 1), round(p95, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="yolox,nanodet,centernet")
    parser.add_argument("--onnx", action="append", default=[], metavar="LABEL=BACKEND:FILE",
                        help="also score this ONNX file with BACKEND's code (e.g. an int8 copy)")
    parser.add_argument("--data", type=Path, default=None, help="coco-dev folder (default: $SIGHTLINE_DATA/coco-dev)")
    parser.add_argument("--min-score", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: cores)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images (a quick check)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from pycocotools.coco import COCO

    root = args.data or data_dir() / "coco-dev"
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO(str(root / "instances_val2017.json"))
    records = sorted(ground_truth.loadImgs(ground_truth.getImgIds()), key=lambda r: r["id"])[: args.limit]
    images = {r["id"]: root / "images" / r["file_name"] for r in records}
    missing = [str(p) for p in images.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} images of the annotations are missing, e.g. {missing[0]}")
    scores = [run_backend(name, ground_truth, images, args.min_score, args.threads)
              for name in args.backends.split(",") if name]
    for spec in args.onnx:
        label, _, rest = spec.partition("=")
        backend, _, file = rest.partition(":")
        if not (label and backend and file):
            raise SystemExit(f"--onnx wants LABEL=BACKEND:FILE, got {spec!r}")
        scores.append(run_backend(backend, ground_truth, images, args.min_score, args.threads, Path(file), label))

    if args.json:
        print(json.dumps({"machine": machine_summary(), "data": str(root), "scores": [asdict(s) for s in scores]},
                         indent=2))
        return
    print(f"Machine: {machine_summary()}; threads={args.threads or 'auto'}; data: {root} "
          f"({scores[0].images if scores else 0} images, {scores[0].boxes if scores else 0} boxes)\n")
    print(markdown_table(
        ("backend", "mAP@[.5:.95]", "mAP@.5", "at operating score: mAP@[.5:.95] / mAP@.5", "ms/image p50 / p95"),
        [(s.backend, s.map_50_95, s.map_50, f"{s.map_50_95_operating} / {s.map_50_operating} (score ≥ "
          f"{s.operating_score})", f"{s.p50_ms} / {s.p95_ms}") for s in scores]))


if __name__ == "__main__":
    main()
