"""Load test of ``POST /api/v1/faces/identify`` on loopback: throughput and p50/p99 latency.

Builds a gallery of ``--gallery`` templates in a temporary data folder: every usable photo of the
five people in faces-small/knn_examples/train is enrolled for real (quality gate, encryption,
audit), and the rest is filled with random unit vectors written straight into the store as
encrypted templates of synthetic subjects (so the index search runs over the full size). Then it
starts ``sightline serve`` (real uvicorn, ``--workers`` processes) and, for each concurrency level,
runs that many clients (each a keep-alive connection sending one request at a time) for at most
``--duration`` seconds or ``--requests`` requests, after a short warm-up. Probes rotate over real
photos of enrolled and unenrolled people. Client and server share the machine, so on few cores the
figures include the load generator's own CPU use.

    python bench/api_load.py                      # 10k gallery, 1/4/16 clients, 1 worker
    python bench/api_load.py --workers 2 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import faces_small_dir, machine_summary, markdown_table  # noqa: E402

from sightline.api.keys_store import KeyStore  # noqa: E402
from sightline.engine import FaceEngine  # noqa: E402
from sightline.gallery.gallery import Gallery  # noqa: E402
from sightline.privacy.crypto import template_aad  # noqa: E402
from sightline.store.tables import Subject, Template  # noqa: E402

PROBES = ("knn_examples/test/obama1.jpg", "knn_examples/test/alex_lacamoire1.jpg", "obama2.jpg", "biden.jpg",
          "knn_examples/test/johnsnow_test1.jpg", "lin-manuel-miranda.png")
FILL_BATCH = 1000


def build_gallery(home: Path, size: int, backend: str, seed: int = 0, db_url: str | None = None) -> dict[str, int]:
    """Enrol the real training photos, then fill to ``size`` templates with random unit vectors
    (in ``home``'s SQLite file, or in the database at ``db_url``)."""
    engine = FaceEngine(backend).load()
    gallery = Gallery.open(home, db_url, engine=engine, actor="bench", create_key=True)
    real = 0
    train = faces_small_dir() / "examples" / "knn_examples" / "train"
    for person in sorted(p for p in train.iterdir() if p.is_dir()):
        subject = gallery.create_subject(name=person.name.replace("_", " ").title(), legal_basis="consent",
                                         purpose="load benchmark", evidence="bench", retention_days=1)
        for photo in sorted(person.iterdir()):
            real += gallery.enroll_image(str(subject["id"]), photo).accepted
    rng = np.random.default_rng(seed)
    dim, embedder = engine.embedding_dim, engine.spec.embedder
    now, until = datetime.now(UTC), datetime.now(UTC) + timedelta(days=1)
    filled = 0
    with gallery.sessions() as session:
        next_id = (session.query(Template.id).order_by(Template.id.desc()).limit(1).scalar() or 0) + 1
    while real + filled < size:
        batch = min(FILL_BATCH, size - real - filled)
        vectors = rng.standard_normal((batch, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with gallery.sessions.begin() as session:
            for row, vector in enumerate(vectors):
                subject_id = os.urandom(16).hex()
                session.add(Subject(id=subject_id, name=f"synthetic {filled + row}", legal_basis="consent",
                                    purpose="load benchmark fill", evidence="bench", enrolled_by="bench",
                                    created_at=now, retain_until=until))
                template_id = next_id + filled + row
                aad = template_aad(template_id, subject_id)
                key_id, nonce, ciphertext = gallery.keys.encrypt(vector.tobytes(), aad)
                session.add(Template(id=template_id, subject_id=subject_id, backend=engine.backend, embedder=embedder,
                                     dim=dim, quality=1.0, source="synthetic", key_id=key_id, nonce=nonce,
                                     ciphertext=ciphertext, created_at=now))
        filled += batch
    gallery.close()
    return {"real": real, "synthetic": filled, "dim": dim}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path, port: int, workers: int, backend: str, extra: Sequence[str] = (),
                 prefix: Sequence[str] = ()) -> subprocess.Popen:
    """``sightline serve`` on ``port`` (``extra`` options; ``prefix`` e.g. ``taskset -c 0``), once it is ready."""
    command = [*prefix, sys.executable, "-m", "sightline", "serve", "--home", str(home), "--port", str(port),
               "--workers", str(workers), "--backend", backend, "--log-level", "warning", *extra]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    deadline = time.monotonic() + 180
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stderr.read()}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("server did not become ready in 180 s")


async def run_level(base: str | list[str], token: str, probes: list[tuple[str, bytes]], clients: int,
                    duration: float, max_requests: int, warmup: int) -> dict[str, object]:
    """``clients`` concurrent keep-alive clients; latency of every request after the warm-up.

    ``base`` may list several servers (replicas): client ``n`` talks to ``base[n % len(base)]``.
    """
    bases = [base] if isinstance(base, str) else list(base)
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop_at = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=120)) for url in bases]
        for index in range(warmup * len(sessions)):
            name, data = probes[index % len(probes)]
            await sessions[index % len(sessions)].post("/api/v1/faces/identify", files={"image": (name, data)})

        async def worker(number: int) -> None:
            nonlocal errors, sent
            client = sessions[number % len(sessions)]
            turn = number
            while time.perf_counter() < stop_at and sent < max_requests:
                sent += 1
                name, data = probes[turn % len(probes)]
                turn += clients
                start = time.perf_counter()
                response = await client.post("/api/v1/faces/identify", files={"image": (name, data)})
                elapsed = time.perf_counter() - start
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        wall = time.perf_counter() - began
    values = np.asarray(latencies) * 1000.0
    return {"clients": clients, "requests": len(latencies), "errors": errors, "seconds": round(wall, 1),
            "throughput": round(len(latencies) / wall, 2) if wall else 0.0,
            "p50_ms": round(float(np.percentile(values, 50)), 1) if values.size else None,
            "p99_ms": round(float(np.percentile(values, 99)), 1) if values.size else None}


_STAGE = r'^sightline_inference_seconds_{}\{{model="([^"]+)",stage="([^"]+)"\}} (\S+)'


def stage_means(metrics: str) -> dict[str, float]:
    """Mean server-side milliseconds per inference stage, from the Prometheus text (one worker's view)."""
    def read(kind: str) -> dict[tuple[str, str], float]:
        return {(m, st): float(v) for m, st, v in re.findall(_STAGE.format(kind), metrics, re.M)}

    sums, counts = read("sum"), read("count")
    return {f"{m}/{st}": round(1000 * sums[(m, st)] / n, 1) for (m, st), n in counts.items() if n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", type=int, default=10_000, help="templates in the gallery (default 10000)")
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels (default 1,4,16)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--duration", type=float, default=20.0, help="max seconds per level (default 20)")
    parser.add_argument("--requests", type=int, default=400, help="max requests per level (default 400)")
    parser.add_argument("--warmup", type=int, default=4, help="requests before timing each level")
    parser.add_argument("--backend", default="auto", help="face backend")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = parser.parse_args()
    levels = [int(v) for v in args.clients.split(",") if v.strip()]

    with tempfile.TemporaryDirectory(prefix="sightline-load-") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        fill = build_gallery(home, args.gallery, args.backend)
        build_s = time.perf_counter() - started
        with Gallery.open(home) as gallery:
            keys = KeyStore(gallery.sessions)
            token = keys.create("bench", "operator", created_by="bench").token
            admin = keys.create("bench-admin", "admin", created_by="bench").token  # only to read the server's settings
        examples = faces_small_dir() / "examples"
        probes = [(Path(p).name, (examples / p).read_bytes()) for p in PROBES]
        port = free_port()
        server = start_server(home, port, args.workers, args.backend)
        try:
            base = f"http://127.0.0.1:{port}"
            info = httpx.get(f"{base}/api/v1/config", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
            info.raise_for_status()
            settings = info.json()["settings"]  # what the server itself runs with, not a recomputation
            threads, index_kind = int(settings["inference_threads"]), settings["index_kind"]
            rows = [asyncio.run(run_level(base, token, probes, n, args.duration, args.requests, args.warmup))
                    for n in levels]
            metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=10).text
            indexed = re.search(r"^sightline_gallery_templates (\S+)", metrics, re.M)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    header = {"gallery_templates": fill["real"] + fill["synthetic"], "real_templates": fill["real"],
              "indexed_by_server": float(indexed.group(1)) if indexed else None, "embedding_dim": fill["dim"],
              "server_workers": args.workers, "inference_threads_per_worker": threads, "index_kind": index_kind,
              "build_seconds": round(build_s, 1), "machine": machine_summary(),
              "server_stage_mean_ms": stage_means(metrics)}
    if args.json:
        print(json.dumps({**header, "levels": rows}, indent=2))
        return
    print(f"POST /api/v1/faces/identify, gallery {header['gallery_templates']} templates "
          f"({fill['real']} real + {fill['synthetic']} synthetic, {fill['dim']}-D, {index_kind} index), "
          f"server: `sightline serve --workers {args.workers}` ({threads} inference threads per worker, "
          f"from its /api/v1/config), "
          f"loopback, probes: {len(probes)} real photos (626x1200 to 1548x1024)")
    print(f"machine: {header['machine']}")
    print("server-side mean per stage (ms): " + ", ".join(f"{k} {v}" for k, v in
                                                         header["server_stage_mean_ms"].items()))
    print()
    print(markdown_table(["concurrent clients", "requests", "errors", "throughput (req/s)", "p50 (ms)", "p99 (ms)"],
                         [[r["clients"], r["requests"], r["errors"], r["throughput"], r["p50_ms"], r["p99_ms"]]
                          for r in rows]))


if __name__ == "__main__":
    main()
