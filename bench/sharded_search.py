"""Sharded 1:N search on Ray (sightline.cluster.shards): build time, memory per shard, latency, recall@1.

    python bench/sharded_search.py [--templates 10000000] [--shards 4] [--queries 1000] [--kind ivf-sq8]
                                   [--nlist 2048] [--nprobe 32,128] [--address HOST:PORT] [--json out.json]

Without ``--address`` a local Ray instance on loopback is started for the run (and stopped after).

Templates are synthetic unit vectors of the default backend's dimension (``yunet-fused``: 384), isotropic
Gaussian directions generated *inside each shard actor* from a seed, chunk by chunk (template id
``i`` lives on shard ``i % shards``; chunk ``c`` of shard ``s`` is drawn from ``default_rng([seed, s, c])``),
so no vector crosses the object store and the same chunks can be regenerated for the ground truth.
Isotropic directions are the hardest case for an inverted-file index (no cluster structure to exploit:
real face templates are far more concentrated), so recall at a given ``nprobe`` is a floor.

Queries, sent one at a time from the driver (scatter to every shard, merge top-k):

* genuine probes (``--queries`` x (1 - ``--unknown-share``)): a stored template plus Gaussian noise scaled
  so the cosine to its source is ``--genuine-cosine`` (default 0.7: a genuine pair);
* non-enrolled probes: fresh random unit vectors (their top score is reported against ``--threshold``).

recall@1 is the share of probes whose top-1 id equals the exact top-1, the ground truth being an
exact inner-product scan of the regenerated float32 templates, in chunks inside the shards; it is given
for the genuine probes (where the top-1 decides an identification; their exact top-1 is their source)
and for all probes (a non-enrolled probe's exact top-1 is an arbitrary template far below any threshold).
Latency is the wall time of ``ShardedIndex.search(query, k)`` on the driver, after a warm-up. The
in-shard figures are measured inside each shard around its search, without Ray's transport (worst shard
shown): wall time, which includes waiting for a core when shards share few cores, and the CPU time of
the searching thread, which is what one shard costs on a core of its own. Index bytes come from the
index (codes, ids, centroids, id map); RSS is the shard actor process's resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback; read when ray is first imported

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_summary, markdown_table  # noqa: E402

DIM = 384  # yunet-fused = fused-dlib-mobileface: 128 (dlib ResNet) + 256 (MobileFace V2)
SEED = 20261203
CHUNK = 50_000


class SyntheticTemplates:
    """Seeded unit-vector templates, generated chunk by chunk; called in a shard as ``source(shard, shards)``."""

    def __init__(self, total: int, dim: int = DIM, seed: int = SEED, chunk: int = CHUNK) -> None:
        self.total, self.dim, self.seed, self.chunk = total, dim, seed, chunk

    def owned(self, shard: int, shards: int) -> int:
        """How many template ids (``shard``, ``shard + shards``, ...) below ``total`` the shard owns."""
        return max(0, (self.total - shard + shards - 1) // shards)

    def chunk_of(self, shard: int, shards: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and unit vectors of chunk ``c`` of ``shard``."""
        start, stop = c * self.chunk, min((c + 1) * self.chunk, self.owned(shard, shards))
        ids = shard + shards * np.arange(start, stop, dtype=np.int64)
        rows = np.random.default_rng([self.seed, shard, c]).standard_normal((len(ids), self.dim), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return ids, rows

    def __call__(self, shard: int, shards: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        chunks = -(-self.owned(shard, shards) // self.chunk)
        for c in range(chunks):
            yield self.chunk_of(shard, shards, c)

    def vectors(self, ids: np.ndarray, shards: int) -> np.ndarray:
        """The stored vectors of ``ids`` (regenerating only the chunks they fall in)."""
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        keys = [(int(i) % shards, (int(i) // shards) // self.chunk) for i in ids]
        for shard, c in sorted(set(keys)):
            chunk_ids, rows = self.chunk_of(shard, shards, c)
            for n, key in enumerate(keys):
                if key == (shard, c):
                    out[n] = rows[int(np.searchsorted(chunk_ids, ids[n]))]
        return out


def make_probes(source: SyntheticTemplates, shards: int, count: int, unknown_share: float, cosine: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(probes, source ids): genuine probes near stored templates (source id) and non-enrolled ones (-1)."""
    genuine = count - int(round(count * unknown_share))
    # sources drawn from a few chunks per shard, so the driver regenerates little
    picks: list[int] = []
    per_shard = -(-genuine // shards)
    for shard in range(shards):
        owned = source.owned(shard, shards)
        chunks = max(1, -(-owned // source.chunk))
        for c in rng.choice(chunks, size=min(chunks, 4), replace=False).tolist():
            size = min(source.chunk, owned - c * source.chunk)
            local = rng.choice(size, size=min(size, -(-per_shard // min(chunks, 4))), replace=False)
            picks += (shard + shards * (c * source.chunk + local)).tolist()
    src = rng.permutation(np.asarray(picks, dtype=np.int64))[:genuine]
    stored = source.vectors(src, shards)
    sigma = np.sqrt(1.0 / cosine**2 - 1.0)  # |noise| so that cos(template, template + noise) ~= cosine
    noise = rng.standard_normal(stored.shape).astype(np.float32) * (sigma / np.sqrt(source.dim))
    near = stored + noise
    unknown = rng.standard_normal((count - genuine, source.dim)).astype(np.float32)
    probes = np.vstack([near, unknown])
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    return probes, np.concatenate([src, np.full(count - genuine, -1, dtype=np.int64)])


def start_ray(address: str | None) -> tuple[object, str | None]:
    """Join ``address``, or start a private loopback Ray instance; returns (ray, temp dir to remove)."""
    import ray

    if address:
        from sightline.cluster.runtime import connect

        return connect(address), None
    own = tempfile.mkdtemp(prefix="rb", dir="/tmp")  # not /tmp/ray: other clusters on this machine use that
    ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=256 * 1024**2, include_dashboard=False,
             _node_ip_address="127.0.0.1", _temp_dir=own, log_to_driver=False, logging_level="warning")
    return ray, own


def run(args: argparse.Namespace) -> dict:
    from sightline.cluster.shards import ShardedIndex

    source = SyntheticTemplates(args.templates, args.dim, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    params = {"nlist": args.nlist} if args.kind in ("ivf", "ivf-sq8") else {}
    index = ShardedIndex(args.shards, kind=args.kind, params=params, dim=args.dim, timeout_s=60.0,
                         threads=args.threads, start_timeout_s=600.0)
    try:
        t0 = time.perf_counter()
        loads = index.load(source)
        build_s = time.perf_counter() - t0
        infos = index.info()
        probes, src = make_probes(source, args.shards, args.queries, args.unknown_share, args.genuine_cosine, rng)
        genuine = src >= 0
        t0 = time.perf_counter()
        truth_scores, truth_ids = index.exact_scan(source, probes, 1)
        exact_s = time.perf_counter() - t0
        cos = np.einsum("ij,ij->i", probes[genuine], source.vectors(src[genuine], args.shards))
        rows = []
        for nprobe in args.nprobe or [0]:
            if nprobe:
                index.set_search_params(nprobe=nprobe)
            for q in probes[: min(20, len(probes))]:  # warm-up
                index.search(q, args.k)
            index.search_stats(reset=True)
            latencies, top_ids, top_scores = [], [], []
            for q in probes:
                t = time.perf_counter()
                scores, ids = index.search(q, args.k)
                latencies.append((time.perf_counter() - t) * 1000.0)
                top_ids.append(int(ids[0, 0]))
                top_scores.append(float(scores[0, 0]))
            in_shard = index.search_stats(reset=True)
            top = np.asarray(top_ids)
            top_s = np.asarray(top_scores)
            rows.append({
                "nprobe": nprobe or None,
                "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
                "shard_p50_ms": max(s["p50_ms"] for s in in_shard), "shard_p99_ms": max(s["p99_ms"] for s in in_shard),
                "shard_cpu_p50_ms": max(s["cpu_p50_ms"] for s in in_shard),
                "shard_cpu_p99_ms": max(s["cpu_p99_ms"] for s in in_shard),
                "recall_at_1": float(np.mean(top[genuine] == truth_ids[genuine, 0])),
                "recall_at_1_all": float(np.mean(top == truth_ids[:, 0])),
                "source_found": float(np.mean(top[genuine] == src[genuine])),
                "exact_source_found": float(np.mean(truth_ids[genuine, 0] == src[genuine])),
                "unknown_above_threshold": float(np.mean(top_s[~genuine] >= args.threshold))
                if (~genuine).any() else None,
                "exact_unknown_top_max": float(truth_scores[~genuine, 0].max()) if (~genuine).any() else None,
            })
    finally:
        index.close()
    return {
        "templates": args.templates, "shards": args.shards, "dim": args.dim, "kind": args.kind, "params": params,
        "k": args.k, "queries": args.queries, "genuine": int(genuine.sum()),
        "genuine_cosine_mean": float(cos.mean()), "genuine_cosine_sd": float(cos.std()),
        "threshold": args.threshold, "build_s": build_s, "shard_build_s": [r["seconds"] for r in loads],
        "exact_scan_s": exact_s, "threads_per_shard": args.threads,
        "shard_index_bytes": [i["index_bytes"] for i in infos], "shard_rss_bytes": [i["rss_bytes"] for i in infos],
        "shard_sizes": [i["size"] for i in infos], "results": rows, "machine": machine_summary(),
    }


def table(report: dict) -> str:
    """The markdown table: one row per nprobe setting."""
    gib = 1024**3
    params = ", ".join(f"{k}={v}" for k, v in report["params"].items())
    memory = (f"{max(report['shard_index_bytes']) / gib:.2f} / {max(report['shard_rss_bytes']) / gib:.2f}")
    rows = []
    for r in report["results"]:
        unknown = "-" if r["unknown_above_threshold"] is None else f"{100 * r['unknown_above_threshold']:.1f} %"
        rows.append([report["shards"], f"{report['templates']:,}", f"{report['kind']} ({params}, "
                     f"nprobe={r['nprobe']})" if r["nprobe"] else f"{report['kind']} ({params})",
                     f"{report['build_s']:.0f} s", memory, f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
                     f"{r['shard_p50_ms']:.1f} / {r['shard_p99_ms']:.1f}",
                     f"{r['shard_cpu_p50_ms']:.1f} / {r['shard_cpu_p99_ms']:.1f}",
                     f"{r['recall_at_1']:.3f} / {r['recall_at_1_all']:.3f}", unknown])
    headers = ["shards", "templates", "index", "build", "GiB per shard (index / RSS)", "p50 ms", "p99 ms",
               "in-shard wall p50 / p99 ms", "in-shard CPU p50 / p99 ms",
               "recall@1 vs exact (genuine / all probes)", f"non-enrolled top score >= {report['threshold']}"]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--templates", type=int, default=10_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--kind", default="ivf-sq8", choices=("exact", "hnsw", "ivf", "ivf-sq8"))
    parser.add_argument("--nlist", type=int, default=2048, help="IVF lists per shard")
    parser.add_argument("--nprobe", type=lambda s: [int(v) for v in s.split(",")], default=[32, 128],
                        help="comma-separated nprobe values to measure (one table row each)")
    parser.add_argument("--k", type=int, default=10, help="top-k asked per search")
    parser.add_argument("--dim", type=int, default=DIM)
    parser.add_argument("--genuine-cosine", type=float, default=0.7)
    parser.add_argument("--unknown-share", type=float, default=0.2)
    parser.add_argument("--threshold", type=float, default=0.5, help="score a non-enrolled probe must not reach")
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads per shard")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--address", help="an existing Ray cluster (default: a private local one)")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args(argv)
    if args.kind not in ("ivf", "ivf-sq8"):
        args.nprobe = []
    if args.templates < args.shards or args.queries < 1 or not 0 < args.genuine_cosine < 1:
        parser.error("need templates >= shards, queries >= 1 and 0 < genuine-cosine < 1")
    ray, own = start_ray(args.address)
    try:
        report = run(args)
    finally:
        ray.shutdown()
        if own:
            shutil.rmtree(own, ignore_errors=True)
    print(f"{report['machine']}\n")
    print(table(report))
    print(f"\nexact ground-truth scan {report['exact_scan_s']:.0f} s; genuine probes' cosine to source "
          f"{report['genuine_cosine_mean']:.3f} +- {report['genuine_cosine_sd']:.3f}; build per shard "
          f"{', '.join(f'{s:.0f}' for s in report['shard_build_s'])} s ({report['threads_per_shard']} FAISS thread(s) "
          f"each); highest exact top score of a non-enrolled probe {report['results'][0]['exact_unknown_top_max']}; "
          f"genuine probes whose exact top-1 is their source: {report['results'][0]['exact_source_found']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
