"""int8 against float for the ONNX models Sightline runs: accuracy on our benches and ms per call.

    sightline models quantize MODEL --calibration $SIGHTLINE_DATA/lfw          # the int8 files (models cache)
    python bench/int8.py --specs                                                # the caches to fill, then for each
    python bench/lfw_embeddings.py --backend 'SPEC'                             # (resumable, under nice)
    python bench/int8.py [--sections embedders,yunet,plates,speed] [--json]

Face models are calibrated on LFW view-1 images of people in no view-2 pair (``sightline.models.int8``),
so every LFW figure here is on view 2 (``pairs.txt``, 10 folds) without overlap.

- ``embedders``: fr_feature, MobileFace V2, InsightFace MobileFaceNet with their shipped flip setting,
  float YuNet: 10-fold accuracy, TAR at FAR 1e-3, accuracy at the backend's shipped threshold, and
  "mixed" (one photo of each pair embedded in float, the other in int8: a gallery enrolled before the switch);
- ``yunet``: detection agreement of int8 YuNet with float YuNet (a float face counts as found at IoU >= 0.5;
  extra int8 faces; landmark shift in % of the eye distance) on the 7,701 LFW view-2 images and the
  faces-small photos, and ``yunet-dlib``'s LFW view-2 accuracy with the int8 detector;
- ``plates``: LPD-YuNet float vs the int8 file in ``plates/`` inside the full plate reader
  (``bench/plates.py``'s reader and scoring): detection recall and exact reads on plates-dev;
- ``speed``: ms per call on one thread, float and int8 interleaved, median of ``--repeats`` rounds, both
  wall and CPU time (``time.process_time``: less disturbed by other processes on a shared machine).

Verdict: int8 ships as the ``int8`` variant (``SIGHTLINE_MODEL_VARIANT=int8``) only if its accuracy
drops by at most 0.5 points and its CPU time per call is not higher than float's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, faces_small_dir, list_images, machine_summary, markdown_table  # noqa: E402
from lfw_embeddings import lfw_root, load  # noqa: E402
from lfw_views import Pairs, cosines, fused_vectors, shipped_spec, tar_at_far  # noqa: E402
from protocol import accuracy, cross_validate  # noqa: E402

from sightline.models.store import ModelStore  # noqa: E402
from sightline.models.zoo import FACE_BACKENDS  # noqa: E402
from sightline.vision.faces import fusion  # noqa: E402
from sightline.vision.faces.thresholds import THRESHOLDS  # noqa: E402

EMBEDDERS = (("faceplugin-feature", "yunet-frfeature"), ("mobileface-v2", "yunet-mobileface"),
             ("insightface-mobilefacenet", "yunet-insightface"))
FUSED = (("mobileface-v2 in the fusion", "yunet-fused"), ("insightface-mobilefacenet in the fusion",
                                                         "yunet-fused-insightface"))
INT8_PARTS = ("mobileface-v2", "insightface-mobilefacenet", "frfeature")
MAX_DROP = 0.5  # points of accuracy


def int8_spec(spec: str) -> str:
    """The cache spec of ``spec`` with the embedder's int8 file (``#view`` suffix kept)."""
    cache, hash_, view = spec.partition("#")
    return f"{cache},int8=1{hash_}{view}"


def yunet_int8_spec(spec: str) -> str:
    return spec.replace("yunet=yunet-2023mar", "yunet=yunet-2023mar-int8")


def all_specs() -> list[str]:
    """Every cache spec this benchmark reads (fill each with bench/lfw_embeddings.py)."""
    specs = []
    for _, backend in EMBEDDERS:
        specs += [shipped_spec(backend).partition("#")[0], int8_spec(shipped_spec(backend)).partition("#")[0]]
    dlib = shipped_spec("yunet-dlib")
    return list(dict.fromkeys(specs + [dlib, yunet_int8_spec(dlib)]))


def fused_vectors_of(pairs: Pairs, backend: str, int8: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(left, right, no-face images) of ``backend`` as shipped; ``int8``: its ONNX embedders' int8 files."""
    name = FACE_BACKENDS[backend].embedder
    if name not in fusion.FUSIONS:
        spec = shipped_spec(backend)
        return pairs.vectors(int8_spec(spec) if int8 else spec)
    parts = [pairs.vectors(int8_spec(shipped_spec(backend, embedder=part)) if int8 and part in INT8_PARTS
                           else shipped_spec(backend, embedder=part)) for part, _ in fusion.FUSIONS[name]]
    return (fused_vectors(name, [p[0] for p in parts])[0], fused_vectors(name, [p[1] for p in parts])[0],
            max(p[2] for p in parts))


def lfw_row(pairs: Pairs, backend: str, fp32: tuple, int8: tuple) -> dict[str, object]:
    """View-2 figures of ``backend``'s float and int8 (left, right, no-face) vectors, and of mixed pairs."""
    out: dict[str, object] = {"backend": backend}
    for label, (lv, rv, no_face) in (("fp32", fp32), ("int8", int8)):
        scores = cosines(lv, rv)
        result = cross_validate(scores, pairs.same, pairs.folds)
        shipped = THRESHOLDS[backend].value
        out[label] = {"accuracy": result.mean, "std": result.std,
                      "tar_at_far_1e-3": tar_at_far(scores, pairs.same, 1e-3),
                      "accuracy_at_shipped": accuracy(scores, pairs.same, shipped), "no_face_images": no_face}
    mixed = cosines(fp32[0], int8[1])
    out["mixed_accuracy"] = cross_validate(mixed, pairs.same, pairs.folds).mean
    out["drop_points"] = 100 * (out["fp32"]["accuracy"] - out["int8"]["accuracy"])  # type: ignore[index]
    return out


def section_embedders(pairs: Pairs) -> list[dict[str, object]]:
    rows = []
    for model, backend in EMBEDDERS + FUSED:
        try:
            rows.append({"model": model, **lfw_row(pairs, backend, fused_vectors_of(pairs, backend, False),
                                                   fused_vectors_of(pairs, backend, True))})
        except SystemExit as exc:
            print(f"skipped {model}: {exc}", file=sys.stderr)
    return rows


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def agreement(images: list[Path], fp32, int8) -> dict[str, object]:
    """How many float faces int8 finds (IoU >= 0.5), its extra faces and the landmark shift."""
    found = total = extra = 0
    shifts, score_diffs = [], []
    for path in images:
        pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
        ref, got = fp32.detect(pixels), int8.detect(pixels)
        total += len(ref)
        used: set[int] = set()
        for face in ref:
            ious = [(_iou(face.box, g.box), i) for i, g in enumerate(got) if i not in used]
            best = max(ious, default=(0.0, -1))
            if best[0] < 0.5:
                continue
            found += 1
            used.add(best[1])
            match = got[best[1]]
            eyes = max(float(np.linalg.norm(face.landmarks[1] - face.landmarks[0])), 1.0)
            shifts.append(float(np.linalg.norm(face.landmarks - match.landmarks, axis=1).mean()) / eyes)
            score_diffs.append(abs(face.score - match.score))
        extra += len(got) - len(used)
    return {"images": len(images), "fp32_faces": total, "int8_found": found,
            "recall": found / total if total else 1.0, "int8_extra": extra,
            "landmark_shift_pct_eyes": 100 * float(np.mean(shifts)) if shifts else 0.0,
            "score_diff": float(np.mean(score_diffs)) if score_diffs else 0.0}


def section_yunet(pairs: Pairs | None, store: ModelStore) -> dict[str, object]:
    from sightline.vision.faces.detectors import YuNetDetector

    fp32 = YuNetDetector(str(store.path("yunet-2023mar")))
    int8 = YuNetDetector(str(store.path("yunet-2023mar-int8")))
    out: dict[str, object] = {}
    if pairs is not None:
        rels = sorted(set(pairs.left) | set(pairs.right))
        out["lfw_view2"] = agreement([lfw_root() / "images" / r for r in rels], fp32, int8)
    out["faces_small"] = agreement(list_images(faces_small_dir()), fp32, int8)
    if pairs is not None:
        dlib = shipped_spec("yunet-dlib")
        subset, fp32_vectors, int8_vectors = cached_pairs(pairs, dlib, yunet_int8_spec(dlib))
        if subset.same.size:
            out["yunet_dlib"] = {**lfw_row(subset, "yunet-dlib", fp32_vectors, int8_vectors),
                                 "pairs": int(subset.same.size)}
    return out


def cached_pairs(pairs: Pairs, *specs: str):
    """The pairs whose two images are in every cache of ``specs`` (all 6,000 once the caches are full),
    as an object with ``same`` and ``folds``, and each spec's (left, right, no-face) vectors on them."""
    data = [load(spec, "colour") for spec in specs]
    indexes = [d.index() for d in data]
    keep = np.array([all(a in i and b in i for i in indexes) for a, b in zip(pairs.left, pairs.right, strict=True)],
                    dtype=bool)
    subset = SimpleNamespace(same=pairs.same[keep], folds=pairs.folds[keep])
    left = [p for p, k in zip(pairs.left, keep, strict=True) if k]
    right = [p for p, k in zip(pairs.right, keep, strict=True) if k]
    vectors = [(d.vectors[[i[p] for p in left]], d.vectors[[i[p] for p in right]],
                int(sum(not d.detected[i[p]] for p in set(left) | set(right))))
               for d, i in zip(data, indexes, strict=True)]
    return subset, *vectors


def section_plates(regions: list[str]) -> dict[str, object]:
    """Plate reader figures with the float and the int8 LPD-YuNet (same reader otherwise)."""
    from plates import load_truth, run_sightline, score

    import sightline.plates.service as service

    original = service.plate_model_paths
    out: dict[str, object] = {}
    for label, model in (("fp32", "lpd-yunet"), ("int8", "lpd-yunet-int8")):
        def paths(store: ModelStore | None = None, _model: str = model) -> dict[str, Path]:
            found = original(store)
            found["detector"] = (store or ModelStore()).path(_model)
            return found

        service.plate_model_paths = paths  # the reader is built by build_plate_reader; only the plate model differs
        try:
            for region in regions:
                items = load_truth(data_dir() / "plates-dev" / region)
                reads, _ = run_sightline(region, items, threads=1)
                out[f"{label}/{region}"] = score(items, reads)
        finally:
            service.plate_model_paths = original
    return out


def _timed(fn, repeats: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    return float(np.median(wall)), float(np.median(cpu))


def section_speed(store: ModelStore, repeats: int) -> dict[str, dict[str, float]]:
    """ms per call on one thread: YuNet on a 250x250 LFW photo and a 1280x886 group photo, embedders on
    one aligned crop, LPD-YuNet on its 320x240 input; float and int8 alternate within each round."""
    from sightline.models.onnx import create_session
    from sightline.vision.faces.detectors import YuNetDetector

    cv2.setNumThreads(1)
    lfw_photo = cv2.imread(str(sorted((lfw_root() / "images").glob("A*/*.jpg"))[0]))
    group = cv2.imread(str(faces_small_dir() / "group_six_people.jpg"))
    crop = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    plate = np.random.default_rng(1).uniform(0, 255, (1, 3, 240, 320)).astype(np.float32)
    jobs = {}
    for name, image in (("yunet 250x250", lfw_photo), ("yunet 1280x886", group)):
        detectors = [YuNetDetector(str(store.path(m))) for m in ("yunet-2023mar", "yunet-2023mar-int8")]
        jobs[name] = [lambda d=d, im=image: d.detect(im) for d in detectors]
    for model, _ in EMBEDDERS:
        sessions = [create_session(store.path(m), threads=1) for m in (model, f"{model}-int8")]
        jobs[model] = [lambda s=s: s.run(None, {s.get_inputs()[0].name: crop}) for s in sessions]
    sessions = [create_session(store.path(m), threads=1) for m in ("lpd-yunet", "lpd-yunet-int8")]
    jobs["lpd-yunet"] = [lambda s=s: s.run(None, {"input": plate}) for s in sessions]
    out = {}
    for name, (fp32, int8) in jobs.items():
        fp32(), int8()  # warm-up
        rounds = [(_timed(fp32, 5), _timed(int8, 5)) for _ in range(repeats)]
        out[name] = {"fp32_ms": float(np.median([r[0][0] for r in rounds])),
                     "int8_ms": float(np.median([r[1][0] for r in rounds])),
                     "fp32_cpu_ms": float(np.median([r[0][1] for r in rounds])),
                     "int8_cpu_ms": float(np.median([r[1][1] for r in rounds]))}
    return out


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def verdict(drop_points: float, speed: dict[str, float] | None) -> str:
    if drop_points > MAX_DROP:
        return f"no (-{drop_points:.2f} points)"
    if speed and speed["int8_cpu_ms"] > speed["fp32_cpu_ms"]:
        return "no (slower)"
    return "yes"


def tables(result: dict[str, object]) -> str:
    """The README tables."""
    speed = result.get("speed", {})
    lines = []
    rows = []
    for row in result.get("embedders", []):
        f, i = row["fp32"], row["int8"]
        s = speed.get(row["model"].split(" ")[0])
        rows.append([f"`{row['model']}` (`{row['backend']}`)", f"{_pct(f['accuracy'])} / {_pct(i['accuracy'])}",
                     f"{100 * f['tar_at_far_1e-3']:.1f} / {100 * i['tar_at_far_1e-3']:.1f} %",
                     f"{_pct(f['accuracy_at_shipped'])} / {_pct(i['accuracy_at_shipped'])}",
                     _pct(row["mixed_accuracy"]),
                     f"{s['fp32_cpu_ms']:.1f} / {s['int8_cpu_ms']:.1f}" if s else "—", verdict(row["drop_points"], s)])
    yunet = result.get("yunet", {})
    if "yunet_dlib" in yunet:
        f, i = yunet["yunet_dlib"]["fp32"], yunet["yunet_dlib"]["int8"]
        s = speed.get("yunet 250x250")
        pairs_note = "" if yunet["yunet_dlib"]["pairs"] == 6000 else f", {yunet['yunet_dlib']['pairs']} of 6,000 pairs"
        rows.append([f"`yunet-2023mar` (`yunet-dlib`{pairs_note})", f"{_pct(f['accuracy'])} / {_pct(i['accuracy'])}",
                     f"{100 * f['tar_at_far_1e-3']:.1f} / {100 * i['tar_at_far_1e-3']:.1f} %",
                     f"{_pct(f['accuracy_at_shipped'])} / {_pct(i['accuracy_at_shipped'])}",
                     _pct(yunet["yunet_dlib"]["mixed_accuracy"]),
                     f"{s['fp32_cpu_ms']:.1f} / {s['int8_cpu_ms']:.1f}" if s else "—",
                     verdict(yunet["yunet_dlib"]["drop_points"], s)])
    if rows:
        lines += ["**LFW view 2, float / int8** (10 folds; int8 calibrated on view-1 people absent from view 2)\n",
                  markdown_table(["model (backend)", "accuracy", "TAR @ FAR 1e-3", "at shipped threshold",
                                  "mixed float/int8 pairs", "CPU ms/call", "int8 shipped"], rows), ""]
    det_rows = []
    for key, label in (("lfw_view2", "LFW view-2 images"), ("faces_small", "faces-small photos")):
        if key in yunet:
            a = yunet[key]
            det_rows.append([label, a["images"], a["fp32_faces"], f"{a['int8_found']} ({_pct(a['recall'])})",
                             a["int8_extra"], f"{a['landmark_shift_pct_eyes']:.2f} %", f"{a['score_diff']:.3f}"])
    if det_rows:
        lines += ["**YuNet int8 against float YuNet**\n",
                  markdown_table(["images", "n", "float faces", "found by int8 (IoU >= 0.5)", "extra int8 faces",
                                  "landmark shift (of eye distance)", "mean score difference"], det_rows), ""]
    plates = result.get("plates", {})
    plate_rows = []
    for key, value in plates.items():
        label, region = key.split("/")
        plate_rows.append([f"{region} {label}", value["images"], _pct(value["recall"]), _pct(value["end_to_end"]),
                           _pct(value["within_one_rate"]), f"{value['cpu_ms_median']:.0f}"])
    if plate_rows:
        lines += ["**LPD-YuNet float / int8 in the plate reader (plates-dev)**\n",
                  markdown_table(["region, LPD-YuNet", "images", "plate found", "exact read", "within one",
                                  "reader CPU ms (median)"], plate_rows), ""]
    if speed:
        lines += ["**ms per call, one thread** (median; wall, then CPU time)\n",
                  markdown_table(["model", "float wall", "int8 wall", "float CPU", "int8 CPU"],
                                 [[k, f"{v['fp32_ms']:.2f}", f"{v['int8_ms']:.2f}", f"{v['fp32_cpu_ms']:.2f}",
                                   f"{v['int8_cpu_ms']:.2f}"] for k, v in speed.items()]), ""]
    return "\n".join(lines) + f"\n{machine_summary()}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="embedders,yunet,plates,speed")
    parser.add_argument("--regions", default="eu,us")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--specs", action="store_true", help="print the cache specs to fill, then exit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.specs:
        print("\n".join(all_specs()))
        return 0
    sections = set(args.sections.split(","))
    store = ModelStore()
    pairs = Pairs("pairs.txt") if sections & {"embedders", "yunet"} else None
    result: dict[str, object] = {}
    if "speed" in sections:
        result["speed"] = section_speed(store, args.repeats)
    if "embedders" in sections and pairs is not None:
        result["embedders"] = section_embedders(pairs)
    if "yunet" in sections:
        result["yunet"] = section_yunet(pairs, store)
    if "plates" in sections:
        result["plates"] = section_plates(args.regions.split(","))
    print(json.dumps(result, indent=2) if args.json else tables(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
