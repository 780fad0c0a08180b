"""1:N search benchmark for sightline.gallery.index.VectorIndex: latency, recall, memory, build time.

    python bench/search.py [--sizes 10000,100000,1000000] [--queries 1000] [--kinds exact,hnsw,ivf]
                           [--fill random,faces] [--json]

Each gallery holds one template per identity: the real dlib embeddings of the labelled sample
photos (bench/splits.py dev split) plus a synthetic fill up to the requested size. Two fills:

* ``random`` - uniform random unit vectors. In 128-D these are nearly orthogonal (cosine ~0 +- 0.09),
  far more spread out than faces, which flatters approximate search.
* ``faces`` - noisy perturbations of the real embeddings: a real template plus Gaussian noise with
  the real templates' own covariance (shrunk half-way to isotropic), scaled so that 0.1 % of fill
  pairs score at or above the match threshold (a dlib-like false-match rate). Real dlib templates
  sit in a narrow cone (cosine ~0.93 to their mean), so this fill is far more crowded than random.

Queries, one at a time as in live identification: the real held-out photos (test split) and noisy
copies of stored templates (cosine ~0.95 to their template: a new photo of an enrolled person).
Every index, exact included, is timed on the same ``--queries`` queries (``--exact-queries N`` times
only the first N on the exact index, to save time at 1 M; "queries timed" in the table says how many).
recall@1 is the share of queries whose ANN top-1 equals the exact top-1; "real top-1 ok" is the
share of real held-out photos whose top-1 template is the same person. Memory per identity is
``VectorIndex.memory_bytes() / size`` and, as a check, the process RSS growth / size.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from splits import dev_split, test_split  # noqa: E402

from sightline import FaceEngine  # noqa: E402
from sightline.gallery.index import VectorIndex, set_threads  # noqa: E402

GENUINE_COSINE = 0.95  # synthetic probe vs its template (dlib threshold is ~0.915)
MIN_TRAIN = 39  # training points per IVF list


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def unit_rows(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def real_embeddings(engine: FaceEngine):
    """(dev vectors, dev labels, test vectors, test labels) from the sample photos."""
    dev = [(engine.embed(p), label) for p, label in dev_split()]
    test = [(engine.embed(p), label) for p, label in test_split()]
    return (np.stack([v for v, _ in dev]), [label for _, label in dev],
            np.stack([v for v, _ in test]), [label for _, label in test])


def mean_impostor_cosine(vectors: np.ndarray, labels: list[str]) -> float:
    sims = vectors @ vectors.T
    pairs = [(i, j) for i, j in itertools.combinations(range(len(labels)), 2) if labels[i] != labels[j]]
    return float(np.mean([sims[i, j] for i, j in pairs]))


class FaceLikeFill:
    """Perturbations of real templates with noise shaped like the real templates' own spread.

    The noise scale is the smallest that keeps the fill distinct people: the share of fill pairs
    at or above the backend's match threshold is ``false_match_rate`` (dlib-like, about 0.1 %).
    """

    def __init__(self, seeds: np.ndarray, threshold: float, false_match_rate: float,
                 rng: np.random.Generator) -> None:
        self.seeds, self.rng = seeds, rng
        centred = seeds - seeds.mean(axis=0)
        cov = centred.T @ centred / max(len(seeds) - 1, 1)
        dim = seeds.shape[1]
        shrunk = 0.5 * cov + 0.5 * np.trace(cov) / dim * np.eye(dim)
        self.shape = np.linalg.cholesky(shrunk + 1e-9 * np.eye(dim)).astype(np.float32)
        low, high = 0.05, 10.0  # more noise -> fewer look-alike pairs
        for _ in range(25):
            self.scale = (low + high) / 2
            sample = self.draw(80_000, np.random.default_rng(1))
            pairs = (sample[:40_000] * sample[40_000:]).sum(axis=1)
            rate = float((pairs >= threshold).mean())
            low, high = (self.scale, high) if rate > false_match_rate else (low, self.scale)
        self.false_match_rate, self.mean_cosine = rate, float(pairs.mean())
        self.seed_cosine = float((sample * self.seeds[self.last_seeds]).sum(axis=1).mean())

    def draw(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = rng or self.rng
        self.last_seeds = rng.integers(0, len(self.seeds), n)
        noise = rng.standard_normal((n, self.seeds.shape[1]), dtype=np.float32) @ self.shape.T
        return unit_rows(self.seeds[self.last_seeds] + self.scale * noise)


def random_fill(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    return unit_rows(rng.standard_normal((n, dim), dtype=np.float32))


def probes_of(templates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New 'photos' of enrolled people: isotropic noise at cosine ~GENUINE_COSINE to the template."""
    radius = math.sqrt(1 / GENUINE_COSINE**2 - 1)
    noise = rng.standard_normal(templates.shape, dtype=np.float32) * (radius / math.sqrt(templates.shape[1]))
    return unit_rows(templates + noise)


def timed_search(index: VectorIndex, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Search one query at a time; returns (top-1 ids, top-1 scores, latencies in ms)."""
    latencies = np.empty(len(queries))
    top_ids = np.empty(len(queries), dtype=np.int64)
    top_scores = np.empty(len(queries), dtype=np.float32)
    for i in range(len(queries)):
        query = queries[i:i + 1]
        start = time.perf_counter()
        scores, ids = index.search(query, k)
        latencies[i] = (time.perf_counter() - start) * 1000
        top_ids[i], top_scores[i] = ids[0, 0], scores[0, 0]
    return top_ids, top_scores, latencies


def ann_params(kind: str, size: int, args: argparse.Namespace) -> tuple[dict, list[dict]]:
    """(build parameters, search-time settings to sweep on the built index)."""
    if kind == "hnsw":
        build = {"M": args.hnsw_m, "ef_search": args.ef_search[0], "ef_construction": args.ef_construction}
        return build, [{"ef_search": ef} for ef in args.ef_search]
    if kind == "ivf":
        nlist = args.nlist or max(16, 2 ** round(math.log2(math.sqrt(size))))
        while nlist > 16 and MIN_TRAIN * nlist > size:
            nlist //= 2
        probes = sorted({min(p, nlist) for p in args.nprobe})
        return {"nlist": nlist, "nprobe": probes[0]}, [{"nprobe": p} for p in probes]
    return {}, [{}]


def run_kind(kind: str, size: int, fill_name: str, gallery: np.ndarray, queries: np.ndarray,
             real_count: int, real_ok, truth: np.ndarray | None, args: argparse.Namespace):
    """Build one index, time single-query searches per search setting; returns (rows, exact top-1 or None)."""
    build_params, sweeps = ann_params(kind, size, args)
    gc.collect()
    before = rss_bytes()
    index = VectorIndex(gallery.shape[1], kind, **build_params)
    start = time.perf_counter()
    index.add(np.arange(size, dtype=np.int64), gallery)
    build_s = time.perf_counter() - start
    rss_growth = rss_bytes() - before
    exact_truth = None
    rows = []
    for setting in sweeps:
        index.set_search_params(**setting)
        if kind == "exact":
            exact_truth = index.search(queries, k=1)[1][:, 0]  # one batched call: BLAS, fast
            timed = len(queries) if args.exact_queries is None else min(len(queries), args.exact_queries)
            top_ids, _, latencies = timed_search(index, queries[:timed])
        else:
            top_ids, _, latencies = timed_search(index, queries)
        rows.append({
            "fill": fill_name, "size": size, "kind": kind, "params": dict(index.params),
            "build_s": round(build_s, 2),
            "timed_queries": len(latencies),
            "p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "p99_ms": round(float(np.percentile(latencies, 99)), 3),
            "mean_ms": round(float(latencies.mean()), 3),
            "bytes_per_identity": round(index.memory_bytes() / size, 1),
            "rss_bytes_per_identity": round(rss_growth / size, 1),
            "recall_at_1": None if truth is None else round(float((top_ids == truth).mean()), 4),
            "real_top1_ok": round(real_ok(top_ids[:real_count]), 3),
        })
    del index
    gc.collect()
    return rows, exact_truth


def int_list(text: str) -> list[int]:
    """Parse ``"64,128"`` into ``[64, 128]``."""
    return [int(part) for part in text.split(",") if part.strip()]


def markdown(rows: list[dict]) -> str:
    head = ("| fill | templates | index | params | build s | queries timed | p50 ms | p99 ms | recall@1 vs exact "
            "| real top-1 ok | bytes/identity (index) | bytes/identity (RSS) |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        params = " ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        recall = "-" if r["recall_at_1"] is None else f"{r['recall_at_1']:.3f}"
        lines.append(f"| {r['fill']} | {r['size']:,} | {r['kind']} | {params} | {r['build_s']:.1f} | "
                     f"{r['timed_queries']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {recall} | "
                     f"{r['real_top1_ok']:.2f} | "
                     f"{r['bytes_per_identity']:.0f} | {r['rss_bytes_per_identity']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--kinds", default="exact,hnsw,ivf")
    parser.add_argument("--fill", default="random,faces", help="random, faces, or both (comma-separated)")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-search", type=int_list, default=[64], help="HNSW ef_search values to sweep, e.g. 64,128")
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--nlist", type=int, default=0, help="IVF lists (0: about sqrt(size))")
    parser.add_argument("--nprobe", type=int_list, default=[16], help="IVF nprobe values to sweep, e.g. 16,32")
    parser.add_argument("--threads", type=int, default=None, help="FAISS threads (default: all cores)")
    parser.add_argument("--false-match-rate", type=float, default=1e-3, help="faces fill look-alike pair rate")
    parser.add_argument("--exact-queries", type=int, default=None,
                        help="time only the first N queries on the exact index (default: all, as for ANN; "
                             "the table's 'queries timed' column shows the count)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = sorted({k.strip() for k in args.kinds.split(",")}, key=lambda k: (k != "exact", k))  # exact first
    fills = [f.strip() for f in args.fill.split(",")]
    threads = set_threads(args.threads)

    engine = FaceEngine("auto").load()
    dev, dev_labels, test, test_labels = real_embeddings(engine)
    dim = dev.shape[1]
    impostor_cos = mean_impostor_cosine(dev, dev_labels)
    rng = np.random.default_rng(args.seed)
    face_fill = FaceLikeFill(dev, engine.threshold, args.false_match_rate, rng) if "faces" in fills else None
    log = sys.stderr
    print(f"{engine.backend}: {len(dev)} real templates of {len(set(dev_labels))} people, {len(test)} real probes; "
          f"mean impostor cosine {impostor_cos:.3f}; {threads} FAISS threads", file=log)
    if face_fill is not None:
        print(f"faces fill: noise scale {face_fill.scale:.3f}, cosine to its seed {face_fill.seed_cosine:.3f}, "
              f"mean pairwise cosine {face_fill.mean_cosine:.3f}, pairs >= threshold {engine.threshold}: "
              f"{face_fill.false_match_rate:.4f}", file=log)

    rows = []
    for fill_name in fills:
        for size in sizes:
            fill_count = size - len(dev)
            filler = random_fill(fill_count, dim, rng) if fill_name == "random" else face_fill.draw(fill_count)
            gallery = np.vstack([dev, filler])
            del filler
            picks = rng.choice(size, max(args.queries - len(test), 0), replace=False)
            queries = np.vstack([test, probes_of(gallery[picks], rng)])[: args.queries]

            def real_ok(top: np.ndarray) -> float:
                return float(np.mean([t < len(dev) and dev_labels[t] == lbl
                                      for t, lbl in zip(top, test_labels, strict=True)]))

            truth = None
            for kind in kinds:
                kind_rows, exact_truth = run_kind(kind, size, fill_name, gallery, queries, len(test), real_ok,
                                                  truth, args)
                truth = exact_truth if kind == "exact" else truth
                rows.extend(kind_rows)
                for row in kind_rows:
                    print(json.dumps(row), file=log, flush=True)
            del gallery
            gc.collect()

    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                          "faiss_threads": threads, "backend": engine.backend, "queries": args.queries,
                          "mean_impostor_cosine": impostor_cos, "rows": rows}, indent=2))
    else:
        print(markdown(rows))


if __name__ == "__main__":
    main()
