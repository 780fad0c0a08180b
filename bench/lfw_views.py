"""LFW from the shared embedding cache: choose on view 1, report on view 2, for every face backend.

    python bench/lfw_embeddings.py --backend SPEC            # fill the cache first (resumable; see below)
    python bench/lfw_views.py --choose                       # view 1 (pairsDevTrain): flip, detector file,
                                                             # dlib box, thresholds, fusion weights
    python bench/lfw_views.py [--json]                       # view 2 (pairs.txt, 10 folds): the report

A cache SPEC is ``backend[:option=value,...]`` (``bench/common.py:bench_engine``); :func:`shipped_spec`
names the one that reproduces what a backend ships with. The fused backend is computed from its
parts' cached embeddings with the shipped :class:`FusedEmbedder` (what its ``embed`` returns for the
same faces). View 2 columns: 10-fold accuracy (threshold chosen on the other nine folds), TAR at
FAR 1e-3 over all 3,000 impostor pairs, and accuracy at the threshold the backend ships with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_summary, markdown_table, split_views  # noqa: E402
from lfw_embeddings import lfw_root, load  # noqa: E402
from protocol import accuracy, best_threshold, cross_validate, read_pairs  # noqa: E402

from sightline.models.zoo import COMPONENTS, FACE_BACKENDS  # noqa: E402
from sightline.vision.faces import fusion  # noqa: E402
from sightline.vision.faces.onnx_embedders import FusedEmbedder, FusionPart  # noqa: E402
from sightline.vision.faces.thresholds import THRESHOLDS  # noqa: E402

YUNET: list[str | None] = [None]  # --yunet: evaluate as if the yunet component loaded this registered file
REPORTED = ("yunet-dlib", "yunet-mobileface", "yunet-frfeature", "yunet-insightface", "yunet-fused",
            "yunet-fused-insightface")


def shipped_spec(backend: str, *, embedder: str | None = None) -> str:
    """The cache spec that reproduces ``backend`` (or its ``embedder`` component) as shipped."""
    spec = FACE_BACKENDS[backend]
    component = embedder or spec.embedder
    options = [f"yunet={YUNET[0] or COMPONENTS[spec.detector].models[0]}"] if spec.detector == "yunet" else []
    if component == "dlib-resnet":
        options.insert(0, f"dlibbox={'fit' if fusion.DLIB_BOX_FROM_LANDMARKS else 'det'}")
    elif component != "faceres":  # ONNX embedders are cached with both views; the shipped flip setting picks one
        options.insert(0, "flip=both")  # (FaceRes has no flip option: cached as it ships)
    name = {"dlib-resnet": "yunet-dlib", "mobileface-v2": "yunet-mobileface", "frfeature": "yunet-frfeature",
            "insightface-mobilefacenet": "yunet-insightface"}.get(component, backend)
    view = "" if component in ("dlib-resnet", "faceres") else "#tta" if fusion.FLIP.get(component, False) else "#plain"
    return f"{name}:{','.join(options)}{view}"


class Pairs:
    """An LFW pairs file as row indices into cached embeddings."""

    def __init__(self, name: str) -> None:
        self.pairs = read_pairs(lfw_root() / name)
        self.left = [f"{p.name_a}/{p.name_a}_{p.num_a:04d}.jpg" for p in self.pairs]
        self.right = [f"{p.name_b}/{p.name_b}_{p.num_b:04d}.jpg" for p in self.pairs]
        self.same = np.array([p.same for p in self.pairs])
        self.folds = np.array([p.fold for p in self.pairs])

    def vectors(self, spec: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(left vectors, right vectors, images with no face detected) for every pair; error if not cached."""
        cache, _, view = spec.partition("#")  # "#plain" / "#tta": a view of a flip=both cache
        data = load(cache, "colour")
        if view:
            data.vectors = split_views(data.vectors, view)
        index = data.index()
        missing = [p for p in set(self.left) | set(self.right) if p not in index]
        if missing:
            raise SystemExit(f"{spec}: {len(missing)} images not cached yet "
                             f"(python bench/lfw_embeddings.py --backend '{spec}')")
        rows_l = [index[p] for p in self.left]
        rows_r = [index[p] for p in self.right]
        no_face = len({p for p in self.left + self.right if not data.detected[index[p]]})
        return data.vectors[rows_l], data.vectors[rows_r], no_face


def cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", left, right).astype(np.float64)


class _Dim:
    def __init__(self, dim: int) -> None:
        self.dim = dim


def fused_vectors(name: str, parts: list[np.ndarray], params=None) -> tuple[np.ndarray, FusedEmbedder]:
    """The shipped fusion of per-part unit embeddings (rows aligned) and the embedder that made them."""
    params = params or [p for _, p in fusion.FUSIONS[name]]
    embedder = FusedEmbedder([(_Dim(v.shape[1]), p) for v, p in zip(parts, params, strict=True)], name)
    return embedder.combine(parts), embedder


def backend_scores(backend: str, pairs: Pairs) -> tuple[np.ndarray, int]:
    """Cosine per pair for ``backend`` as shipped, and the number of images with no face found."""
    embedder = FACE_BACKENDS[backend].embedder
    if embedder in fusion.FUSIONS:
        lefts, rights, no_face = [], [], 0
        for part, _ in fusion.FUSIONS[embedder]:
            left, right, missing = pairs.vectors(shipped_spec(backend, embedder=part))
            lefts.append(left)
            rights.append(right)
            no_face = max(no_face, missing)
        return cosines(fused_vectors(embedder, lefts)[0], fused_vectors(embedder, rights)[0]), no_face
    left, right, no_face = pairs.vectors(shipped_spec(backend))
    return cosines(left, right), no_face


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """Share of genuine pairs at or above the lowest threshold that lets at most ``far`` of impostors through."""
    impostor = np.sort(scores[~same])[::-1]
    allowed = int(np.floor(far * impostor.size))
    threshold = impostor[allowed] if allowed < impostor.size else -np.inf
    return float(np.mean(scores[same] > threshold))


def eer(scores: np.ndarray, same: np.ndarray) -> float:
    """Equal error rate (the point where false accepts and false rejects are closest)."""
    candidates = np.unique(scores)
    far = np.array([np.mean(scores[~same] >= t) for t in candidates])
    frr = np.array([np.mean(scores[same] < t) for t in candidates])
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2)


def view1_row(label: str, scores: np.ndarray, same: np.ndarray) -> list[object]:
    t = best_threshold(scores, same)
    return [label, f"{100 * accuracy(scores, same, t):.2f} %", f"{100 * eer(scores, same):.2f} %",
            f"{100 * tar_at_far(scores, same, 1e-2):.1f} %", f"{t:.3f}"]


def impostor_stats(spec: str, rng: np.random.Generator, n: int = 200_000) -> tuple[float, float]:
    """Mean and std of cosines over ``n`` random different-person pairs of view-1 (DevTrain) images."""
    cache, _, view = spec.partition("#")
    data = load(cache, "colour")
    if view:
        data.vectors = split_views(data.vectors, view)
    view1 = {p for pair in read_pairs(lfw_root() / "pairsDevTrain.txt")
             for p in (f"{pair.name_a}/{pair.name_a}_{pair.num_a:04d}.jpg",
                       f"{pair.name_b}/{pair.name_b}_{pair.num_b:04d}.jpg")}
    index = data.index()
    rows = np.array(sorted(index[p] for p in view1 if p in index))
    who = np.array([data.paths[r].split("/")[0] for r in rows])
    a, b = rng.integers(0, rows.size, n), rng.integers(0, rows.size, n)
    keep = who[a] != who[b]
    s = cosines(data.vectors[rows[a[keep]]], data.vectors[rows[b[keep]]])
    return float(s.mean()), float(s.std())


def choose(studies: list[tuple[str, str]]) -> None:
    """Print the view-1 studies and the settings they select (to copy into fusion.py and thresholds.py)."""
    pairs = Pairs("pairsDevTrain.txt")
    rows = []
    for label, spec in studies:
        try:
            left, right, _ = pairs.vectors(spec)
        except SystemExit as exc:
            print(f"skipped: {exc}")
            continue
        rows.append(view1_row(f"{label} (`{spec}`)", cosines(left, right), pairs.same))
    print(f"**LFW view 1 (pairsDevTrain, {pairs.same.size} pairs) - choices only**; {machine_summary()}\n")
    headers = ["variant", "accuracy (best threshold)", "EER", "TAR @ FAR 1e-2", "threshold"]
    print(markdown_table(headers, rows))
    rng = np.random.default_rng(0)
    for name, parts in fusion.FUSIONS.items():
        backend = next(b for b in FACE_BACKENDS if FACE_BACKENDS[b].embedder == name)
        specs = [shipped_spec(backend, embedder=part) for part, _ in parts]
        try:
            vecs = [pairs.vectors(spec) for spec in specs]
        except SystemExit as exc:
            print(f"\n{name}: skipped ({exc})")
            continue
        stats = [impostor_stats(spec, rng) for spec in specs]
        best = None
        grid = []
        for w in np.round(np.arange(0.0, 1.0001, 0.05), 2):
            params = [FusionPart(float(w), *stats[0]), FusionPart(float(1 - w), *stats[1])]
            left, fused = fused_vectors(name, [v[0] for v in vecs], params)
            right, _ = fused_vectors(name, [v[1] for v in vecs], params)
            s = cosines(left, right)
            t = best_threshold(s, pairs.same)
            key = (accuracy(s, pairs.same, t), -eer(s, pairs.same))
            grid.append(view1_row(f"w={w:.2f}", s, pairs.same))
            if best is None or key > best[0]:
                best = (key, params, t, fused)
        print(f"\n{name}: weight of {parts[0][0]} (the rest to {parts[1][0]}), z-norm on view-1 impostor cosines "
              f"({', '.join(f'{p}: mean {m:.4f} std {d:.4f}' for (p, _), (m, d) in zip(parts, stats, strict=True))})\n")
        print(markdown_table(headers, grid))
        assert best is not None
        print(f"\nchosen: {[(p, best[1][i]) for i, (p, _) in enumerate(parts)]}, threshold (cosine of fused "
              f"vectors) {best[2]:.4f} = fused z-score {float(best[3].fused_score(best[2])):.3f}")
    print("\nshipped backends, threshold maximising view-1 accuracy:")
    for backend in REPORTED:
        try:
            s, _ = backend_scores(backend, pairs)
        except SystemExit as exc:
            print(f"  {backend}: skipped ({exc})")
            continue
        t = best_threshold(s, pairs.same)
        far, frr = float(np.mean(s[~pairs.same] >= t)), float(np.mean(s[pairs.same] < t))
        print(f'  "{backend}": Threshold({t:.4f}, {int(pairs.same.sum())}, {int((~pairs.same).sum())}, {far:.4f}, '
              f'{frr:.4f}),  # accuracy {view1_row(backend, s, pairs.same)[1]}')


def report(backends: list[str], extra: list[str]) -> tuple[str, list[dict[str, object]]]:
    """View-2 markdown table and JSON rows: shipped backends, then extra cache specs."""
    pairs = Pairs("pairs.txt")
    rows, out = [], []
    jobs = [(b, None) for b in backends] + [(s, s) for s in extra]
    for label, spec in jobs:
        try:
            if spec is None:
                scores, no_face = backend_scores(label, pairs)
            else:
                left, right, no_face = pairs.vectors(spec)
                scores = cosines(left, right)
        except SystemExit as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        result = cross_validate(scores, pairs.same, pairs.folds)
        shipped = THRESHOLDS[label].value if spec is None and label in THRESHOLDS else None
        at_shipped = accuracy(scores, pairs.same, shipped) if shipped is not None else None
        licence = "" if spec is not None else FACE_BACKENDS[label].description.split(":")[0]
        record = {"backend": label, "accuracy": result.mean, "std": result.std,
                  "tar_at_far_1e-3": tar_at_far(scores, pairs.same, 1e-3), "shipped_threshold": shipped,
                  "accuracy_at_shipped": at_shipped, "no_face_images": no_face,
                  "fold_thresholds": result.thresholds}
        out.append(record)
        rows.append([f"`{label}`", f"{100 * result.mean:.2f} % ± {100 * result.std:.2f}",
                     f"{100 * record['tar_at_far_1e-3']:.1f} %",
                     "—" if shipped is None else f"{100 * at_shipped:.2f} % (at {shipped:.3f})",
                     no_face, licence])
    table = markdown_table(["backend", "accuracy (10-fold, mean ± std)", "TAR @ FAR 1e-3", "accuracy at shipped "
                            "threshold", "images with no face found", "what"], rows)
    header = (f"**LFW view 2** (pairs.txt: 10 folds, 6,000 pairs, deep-funneled 250x250; the face nearest the "
              f"centre; a centred box where none is found); {machine_summary()}\n\n")
    return header + table, out


STUDIES = [
    ("mobileface-v2, YuNet 2023mar, no flip", "yunet-mobileface:flip=both,yunet=yunet-2023mar#plain"),
    ("mobileface-v2, YuNet 2026may copy, no flip", "yunet-mobileface:flip=0,yunet=yunet"),
    ("mobileface-v2, flip TTA", "yunet-mobileface:flip=both,yunet=yunet-2023mar#tta"),
    ("insightface-mobilefacenet, no flip", "yunet-insightface:flip=both,yunet=yunet-2023mar#plain"),
    ("insightface-mobilefacenet, flip TTA", "yunet-insightface:flip=both,yunet=yunet-2023mar#tta"),
    ("fr_feature, no flip", "yunet-frfeature:flip=both,yunet=yunet-2023mar#plain"),
    ("fr_feature, flip TTA", "yunet-frfeature:flip=both,yunet=yunet-2023mar#tta"),
    ("dlib, shape predictor on the YuNet 2026may box (old default)", "yunet-dlib"),
    ("dlib, shape predictor on the fitted box from YuNet 2023mar landmarks",
     "yunet-dlib:dlibbox=fit,yunet=yunet-2023mar"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--choose", action="store_true", help="view-1 studies and choices instead of the report")
    parser.add_argument("--backends", default=",".join(REPORTED))
    parser.add_argument("--extra", default="", help="comma-free list of extra cache specs, separated by ';'")
    parser.add_argument("--yunet", default=None, help="registered YuNet file to assume (default: the shipped one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    YUNET[0] = args.yunet
    if args.choose:
        choose(STUDIES)
        return 0
    table, rows = report([b for b in args.backends.split(",") if b], [s for s in args.extra.split(";") if s])
    print(json.dumps(rows, indent=2) if args.json else table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
