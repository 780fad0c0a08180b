"""Licence plates on plates-dev: detection recall, exact reads, end-to-end reads and speed, per region.

    python bench/plates.py [--regions eu,us] [--threads 1] [--simplelpr-python /path/to/venv/bin/python] [--json]

Data: ``$SIGHTLINE_DATA/plates-dev/{eu,us}``, one ``.txt`` per image (``image x y w h PLATE``). For each image
the Sightline reader (``build_plate_reader(region, threads=1)``: vehicles from the object detector, LPD-YuNet on
the whole image and on the two largest vehicle boxes, PP-OCR on crops from the full-resolution image, the
region's format rules) runs once, timed with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU time
of all the process's threads: with one onnxruntime thread per model this is the cost on one core, and it
does not grow when other processes load the machine the way wall time does); decoding excluded.

- detection recall: the ground-truth box has a detected plate box at IoU >= 0.5;
- exact on detected: of those, the best-scoring matching box reads exactly the ground-truth text;
- end to end: images whose plate is detected and read exactly (and: within one character, Levenshtein <= 1);
- "crops from 640-px copy": the same detected boxes read from a copy downscaled to 640 px wide (what a
  reader cutting crops from the detector's input would see), to show why crops come from full resolution.

``--simplelpr-python`` runs the SimpleLPR SDK (evaluation mode, installed in its own venv with
``pip install simplelpr``; a benchmark peer only, never a Sightline dependency) on the same images in that
interpreter (this file doubles as its worker) and adds its rows. Ground truth is openalpr/benchmarks';
some European entries write the letter O where the plate shows a zero (e.g. Slovak ``RKO99AN``), which
no reader can match: counted as misses, as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load_truth(folder: Path) -> list[tuple[Path, tuple[float, float, float, float], str]]:
    """(image path, ground-truth box x1,y1,x2,y2, plate text) for every ``.txt`` in ``folder``."""
    items = []
    for txt in sorted(folder.glob("*.txt")):
        name, x, y, w, h, plate = txt.read_text().strip().split("\t")[:6]
        x, y, w, h = (float(v) for v in (x, y, w, h))
        items.append((folder / name, (x, y, x + w, y + h), plate.strip().upper()))
    return items


def score(items, results) -> dict[str, float]:
    """Figures for one reader: ``results`` holds per image a list of (box, text or None) and the ms taken."""
    detected = exact = within_one = 0
    times = []
    cpu = []
    for (_path, truth_box, plate), (reads, ms, cpu_ms) in zip(items, results, strict=True):
        times.append(ms)
        cpu.append(cpu_ms)
        matching = [(box, text) for box, text in reads if _iou(truth_box, box) >= 0.5]
        if not matching:
            continue
        detected += 1
        text = matching[0][1] or ""
        exact += text == plate
        within_one += _levenshtein(text, plate) <= 1
    times.sort()
    cpu.sort()
    n = len(items)
    return {"images": n, "detected": detected, "exact": exact, "within_one": within_one,
            "recall": detected / n, "exact_on_detected": exact / detected if detected else 0.0,
            "end_to_end": exact / n, "within_one_rate": within_one / n,
            "ms_median": times[len(times) // 2], "ms_mean": sum(times) / n,
            "cpu_ms_median": cpu[len(cpu) // 2], "cpu_ms_mean": sum(cpu) / n}


def run_sightline(region: str, items, threads: int) -> tuple[list, list]:
    """Sightline's reads (boxes best-score first) and, on the same boxes, reads of crops from a 640-px copy."""
    import cv2

    from sightline.plates.service import build_plate_reader
    from sightline.vision.image_io import load_image
    from sightline.vision.plates.crops import TRIMS_Y, plate_crop
    from sightline.vision.plates.formats import apply_format

    if threads == 1:
        cv2.setNumThreads(1)  # resizes and warps on the same single core as the models
    reader = build_plate_reader(region, threads=threads)
    reader.read(load_image(items[0][0]))  # warm-up
    results, downscaled = [], []
    for path, _box, _plate in items:
        image = load_image(path)
        start, start_cpu = time.perf_counter(), time.process_time()
        reads = reader.read(image)
        ms = (time.perf_counter() - start) * 1000.0
        cpu_ms = (time.process_time() - start_cpu) * 1000.0
        results.append(([(r.box, r.text) for r in reads], ms, cpu_ms))
        scale = 640.0 / image.shape[1]
        small = cv2.resize(image, (640, max(1, round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        low = []
        for r in reads:
            box = tuple(v * scale for v in r.box)
            crops = [c for t in TRIMS_Y if (c := plate_crop(small, box, trim_y=t)) is not None]
            texts = [apply_format(t, region) for t in reader.recognizer.read_batch(crops)]
            best = max(texts, key=lambda f: f.confidence, default=None)
            low.append((r.box, best.text if best and best.confidence >= 0.2 else None))
        downscaled.append((low, ms, cpu_ms))
    return results, downscaled


def simplelpr_worker(paths: list[str]) -> None:
    """Runs inside the SimpleLPR venv: one JSON line per image with its candidates and the ms taken."""
    import simplelpr

    engine = simplelpr.SimpleLPR(simplelpr.EngineSetupParms())
    processor = engine.createProcessor()
    processor.plateRegionDetectionEnabled = True
    processor.cropToPlateRegionEnabled = True
    processor.analyze(paths[0])
    for path in paths:
        start, start_cpu = time.perf_counter(), time.process_time()
        candidates = processor.analyze(path)
        ms = (time.perf_counter() - start) * 1000.0
        cpu_ms = (time.process_time() - start_cpu) * 1000.0
        reads = []
        for cand in candidates:
            vertices = list(cand.plateRegionVertices or [])
            if vertices:  # the plate's outline, comparable to the ground truth (boundingBox is the text only)
                xs, ys = [v.x for v in vertices], [v.y for v in vertices]
                box = (min(xs), min(ys), max(xs), max(ys))
            else:
                rect = cand.boundingBox
                box = (rect.left, rect.top, rect.left + rect.width, rect.top + rect.height)
            best = max(cand.matches, key=lambda m: m.confidence, default=None)
            text = "".join(ch for ch in best.text.upper() if ch.isalnum()) if best else None
            reads.append((box, text))
        print(json.dumps({"reads": reads, "ms": ms, "cpu_ms": cpu_ms}), flush=True)


def run_simplelpr(python: str, items) -> list:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([python, __file__, "--simplelpr-worker", *[str(p) for p, _b, _t in items]],
                          capture_output=True, text=True, env=env, check=True, timeout=3600)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return [([(tuple(b), t) for b, t in row["reads"]], row["ms"], row["cpu_ms"]) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", default="eu,us")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per model (1 = one core)")
    parser.add_argument("--simplelpr-python", default=None, help="python of a venv with simplelpr installed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--simplelpr-worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.simplelpr_worker:
        simplelpr_worker(args.simplelpr_worker)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import data_dir, machine_summary, markdown_table

    rows, report = [], {}
    for region in args.regions.split(","):
        items = load_truth(data_dir() / "plates-dev" / region)
        full, low = run_sightline(region, items, args.threads)
        figures = {"sightline": score(items, full), "sightline, crops from 640-px copy": score(items, low)}
        if args.simplelpr_python:
            figures["simplelpr 3.6.4.1"] = score(items, run_simplelpr(args.simplelpr_python, items))
        report[region] = figures
        for name, f in figures.items():
            rows.append([region, name, f"{f['detected']}/{f['images']} ({f['recall']:.1%})",
                         f"{f['exact']}/{f['detected']} ({f['exact_on_detected']:.1%})",
                         f"{f['exact']}/{f['images']} ({f['end_to_end']:.1%})",
                         f"{f['within_one']}/{f['images']} ({f['within_one_rate']:.1%})",
                         f"{f['ms_median']:.0f} / {f['ms_mean']:.0f}",
                         f"{f['cpu_ms_median']:.0f} / {f['cpu_ms_mean']:.0f}"])
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(machine_summary())
    print(markdown_table(["region", "reader", "detection recall (IoU 0.5)", "exact on detected", "end-to-end exact",
                          "end-to-end within 1 char", "wall ms/image median / mean",
                          "CPU ms/image median / mean"], rows))


if __name__ == "__main__":
    main()
