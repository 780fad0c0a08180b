"""Identify throughput past one server process: threads, inference workers, two replicas, a Ray-backed pool.

Same gallery, probes and load generator as ``bench/api_load.py`` (``POST /api/v1/faces/identify``, a 10 k
gallery of 9 real + synthetic encrypted templates, keep-alive clients on loopback), but the store is a
throw-away PostgreSQL on 127.0.0.1 (``tests/pg_server.py``) so that several ``sightline serve`` replicas can
share it. Configurations (``--configs``, comma-separated):

- ``threads``: 1 replica, inference in the server's threads (today's default);
- ``workers``: 1 replica, ``--inference-workers 2`` (face inference in 2 worker processes);
- ``replicas``: 2 replicas on the one database; client ``n`` talks to replica ``n % 2``;
- ``ray``: 1 replica, ``--cluster ADDR --inference-workers 2`` on a local Ray cluster (a head with no CPU
  for work and one node of 2 CPUs, loopback only), started and stopped by this script;
- ``threads-core0`` / ``replicas-pinned``: the same, each replica pinned to one core with ``taskset``
  (1 replica on 1 core vs 2 replicas on 2 cores: per-node scaling).

Client and servers share the machine, so the figures include the load generator's own CPU use; each row
also shows the 1-minute load average just before that level ran (other users of the machine count too).

    python bench/api_replicas.py                                  # threads,workers,replicas; 1/4/16 clients
    python bench/api_replicas.py --configs threads-core0,replicas-pinned,ray --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent / "tests"))  # pg_server: the tests' throw-away PostgreSQL
from api_load import PROBES, build_gallery, free_port, run_level, stage_means, start_server  # noqa: E402
from common import faces_small_dir, machine_summary, markdown_table  # noqa: E402

from sightline.api.keys_store import KeyStore  # noqa: E402
from sightline.gallery.gallery import Gallery  # noqa: E402


@dataclass(frozen=True)
class Config:
    """One server layout to measure."""

    name: str
    replicas: int
    workers: int  # --inference-workers per replica (0: threads)
    ray: bool = False
    pinned: bool = False  # replica i under ``taskset -c i``

    def describe(self) -> str:
        inference = (f"Ray pool of {self.workers} actors" if self.ray else
                     f"{self.workers} inference workers" if self.workers else "threads")
        where = ", pinned to 1 core each" if self.pinned else ""
        return f"{self.replicas} replica{'s' if self.replicas > 1 else ''}, {inference}{where}"


CONFIGS = {c.name: c for c in (Config("threads", 1, 0), Config("workers", 1, 2), Config("replicas", 2, 0),
                               Config("ray", 1, 2, ray=True), Config("threads-core0", 1, 0, pinned=True),
                               Config("replicas-pinned", 2, 0, pinned=True))}


@contextmanager
def postgres() -> Iterator[str]:
    """URL of a fresh database on a throw-away PostgreSQL server (stopped and deleted afterwards)."""
    from pg_server import PostgresServer, postgres_installed

    if not postgres_installed():
        raise SystemExit("PostgreSQL is not installed: apt-get install postgresql (scripts/apt-packages.txt)")
    server = PostgresServer().start()
    try:
        yield server.new_database()
    finally:
        server.stop()


@contextmanager
def ray_cluster(cpus: int) -> Iterator[str]:
    """A local Ray cluster on loopback (head with no CPU for work + one node of ``cpus``); yields its address."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray.cluster_utils import Cluster

    own = tempfile.mkdtemp(prefix="rb", dir="/tmp")  # short (socket paths) and not /tmp/ray, which others use
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False, "temp_dir": own})
    try:
        cluster.add_node(num_cpus=cpus, node_ip_address="127.0.0.1")
        yield cluster.address
    finally:
        cluster.shutdown()
        shutil.rmtree(own, ignore_errors=True)


@contextmanager
def servers(config: Config, home: Path, db_url: str, backend: str, cluster: str | None) -> Iterator[list[str]]:
    """Start the config's replicas (one after the other: each loads its models) and yield their base URLs."""
    extra = ["--db-url", db_url, "--retention-every", "0"]
    if config.workers:
        extra += ["--inference-workers", str(config.workers)]
    if cluster:
        extra += ["--cluster", cluster]
    started: list[subprocess.Popen] = []
    bases = []
    try:
        for index in range(config.replicas):
            port = free_port()
            prefix = ["taskset", "-c", str(index)] if config.pinned else []
            started.append(start_server(home, port, 1, backend, extra, prefix))
            bases.append(f"http://127.0.0.1:{port}")
        yield bases
    finally:
        for server in started:
            os.killpg(server.pid, signal.SIGTERM)
        for server in started:
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


def measure(config: Config, home: Path, db_url: str, args: argparse.Namespace, tokens: tuple[str, str],
            probes: list[tuple[str, bytes]], cluster: str | None) -> dict[str, object]:
    """Every client level against one configuration; the first replica's settings and stage means."""
    token, admin = tokens
    levels = [int(v) for v in args.clients.split(",") if v.strip()]
    with servers(config, home, db_url, args.backend, cluster) as bases:
        settings = httpx.get(f"{bases[0]}/api/v1/config", headers={"Authorization": f"Bearer {admin}"},
                             timeout=10).json()["settings"]
        rows = []
        for clients in levels:
            load = os.getloadavg()[0]
            row = asyncio.run(run_level(bases, token, probes, clients, args.duration, args.requests, args.warmup))
            rows.append({**row, "load_1min": round(load, 2)})
        metrics = httpx.get(f"{bases[0]}/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=10).text
    return {"config": config.name, "layout": config.describe(), "replicas": config.replicas,
            "inference_workers": int(settings.get("inference_workers", 0)),
            "inference_threads": int(settings["inference_threads"]), "db": settings["db"],
            "stage_mean_ms": stage_means(metrics), "levels": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="threads,workers,replicas", help=f"any of {', '.join(CONFIGS)}")
    parser.add_argument("--gallery", type=int, default=10_000, help="templates in the gallery (default 10000)")
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels (default 1,4,16)")
    parser.add_argument("--duration", type=float, default=20.0, help="max seconds per level (default 20)")
    parser.add_argument("--requests", type=int, default=400, help="max requests per level (default 400)")
    parser.add_argument("--warmup", type=int, default=4, help="requests per replica before timing each level")
    parser.add_argument("--backend", default="auto", help="face backend")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = parser.parse_args()
    wanted = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {', '.join(unknown)}: use {', '.join(CONFIGS)}")
    load_at_start = os.getloadavg()
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    examples = faces_small_dir() / "examples"
    probes = [(Path(p).name, (examples / p).read_bytes()) for p in PROBES]
    results = []
    with tempfile.TemporaryDirectory(prefix="sightline-replicas-") as tmp, postgres() as db_url:
        home = Path(tmp)
        fill = build_gallery(home, args.gallery, args.backend, db_url=db_url)
        with Gallery.open(home, db_url) as gallery:
            keys = KeyStore(gallery.sessions)
            tokens = (keys.create("bench", "operator", created_by="bench").token,
                      keys.create("bench-admin", "admin", created_by="bench").token)
        for name in wanted:
            config = CONFIGS[name]
            if config.ray:
                with ray_cluster(config.workers) as address:
                    results.append(measure(config, home, db_url, args, tokens, probes, address))
            else:
                results.append(measure(config, home, db_url, args, tokens, probes, None))
    header = {"started": started_at, "gallery_templates": fill["real"] + fill["synthetic"],
              "real_templates": fill["real"], "embedding_dim": fill["dim"], "machine": machine_summary(),
              "load_at_start": [round(v, 2) for v in load_at_start], "load_at_end": [round(v, 2) for v in
                                                                                    os.getloadavg()]}
    if args.json:
        print(json.dumps({**header, "configs": results}, indent=2))
        return
    print(f"POST /api/v1/faces/identify, gallery {header['gallery_templates']} templates ({fill['real']} real + "
          f"{fill['synthetic']} synthetic, {fill['dim']}-D), PostgreSQL on loopback, probes: {len(probes)} real "
          f"photos; `python bench/api_replicas.py --configs {args.configs}` started {started_at}")
    print(f"machine: {header['machine']}; load average (1/5/15 min) at start "
          f"{'/'.join(str(v) for v in header['load_at_start'])}, at end "
          f"{'/'.join(str(v) for v in header['load_at_end'])}")
    for result in results:
        print(f"- {result['config']}: server-side mean per stage (ms, first replica): " +
              ", ".join(f"{k} {v}" for k, v in result["stage_mean_ms"].items()))
    print()
    print(markdown_table(["layout", "clients", "requests", "errors", "throughput (req/s)", "p50 (ms)", "p99 (ms)",
                          "load (1 min)"],
                         [[r["layout"], row["clients"], row["requests"], row["errors"], row["throughput"],
                           row["p50_ms"], row["p99_ms"], row["load_1min"]]
                          for r in results for row in r["levels"]]))


if __name__ == "__main__":
    main()
