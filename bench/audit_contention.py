"""Does auditing stall recognition? Identify latency idle vs while four clients verify a 300k-row audit chain.

Builds a temporary home: a small real gallery (every usable photo of the five people in
faces-small/knn_examples/train, plus synthetic templates up to ``--gallery``), then ``--rows`` audit
rows appended to the keyed chain. Starts ``sightline serve`` (real uvicorn, one worker) and measures
``POST /api/v1/faces/identify`` from one keep-alive client: first idle, then while ``--verifiers``
clients (one viewer key each) call ``GET /api/v1/audit/verify`` back to back. Each identify writes
its own audit row, so it needs the write lock while the verifications walk the chain. Goal (issue 8):
identify p99 under verification within 2x of idle. Client and server share the machine.

    python bench/audit_contention.py                  # 300k rows, 4 verifiers, ~3 minutes
    python bench/audit_contention.py --rows 50000 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import PROBES, build_gallery, free_port, run_level, start_server  # noqa: E402
from common import faces_small_dir, machine_summary, markdown_table  # noqa: E402

from sightline.api.keys_store import KeyStore  # noqa: E402
from sightline.gallery.gallery import Gallery  # noqa: E402

ACTIONS = ("identify", "identify", "identify", "verify", "enrol", "subjects.list", "events.list")


def fill_chain(home: Path, rows: int) -> float:
    """Append ``rows`` realistic audit rows to the home's keyed chain; seconds taken."""
    started = time.perf_counter()
    with Gallery.open(home, actor="bench") as gallery, gallery.sessions.begin() as session:
        gallery.audit.append_many(session, ({"actor": f"key:bench{i % 7}/camera-{i % 5}", "action": ACTIONS[i % 7],
                                             "outcome": "no_match" if i % 3 else "match",
                                             "details": {"faces": i % 4, "threshold": 0.915}}
                                            for i in range(rows)))
    return time.perf_counter() - started


async def verify_loop(base: str, token: str, stop_at: float, stats: dict[str, list[float] | int]) -> None:
    """Call /audit/verify back to back until ``stop_at``; record durations, refusals and errors."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            response = await client.get("/api/v1/audit/verify")
            if response.status_code == 200 and response.json().get("ok"):
                stats["seconds"].append(time.perf_counter() - began)  # type: ignore[union-attr]
            elif response.status_code == 429:
                stats["refused"] += 1  # type: ignore[operator]
                await asyncio.sleep(0.5)
            else:
                stats["errors"] += 1  # type: ignore[operator]


def server_stage_ms(base: str, token: str) -> dict[str, tuple[float, int]]:
    """Cumulative (seconds, count) per server-side inference stage, from /metrics (empty if not served)."""
    response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if response.status_code != 200:
        return {}

    def read(kind: str) -> dict[str, float]:
        pattern = r'^sightline_inference_seconds_' + kind + r'\{model="([^"]+)",stage="([^"]+)"\} (\S+)'
        return {f"{m}/{st}": float(v) for m, st, v in re.findall(pattern, response.text, re.M)}

    sums, counts = read("sum"), read("count")
    return {name: (sums[name], int(counts.get(name, 0))) for name in sums}


def stage_delta(before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]]) -> float | None:
    """Mean server-side milliseconds of inference per identify between two /metrics readings."""
    seconds = sum(after[k][0] - before.get(k, (0.0, 0))[0] for k in after)
    counts = [after[k][1] - before.get(k, (0.0, 0))[1] for k in after]
    return round(1000 * seconds / max(counts), 1) if counts and max(counts) else None


async def timed_phase(base: str, operator: str, admin: str, probes: list[tuple[str, bytes]], duration: float,
                      requests: int, warmup: int) -> dict[str, object]:
    """One identify client for ``duration`` s; adds the mean server-side inference time per request."""
    before = await asyncio.to_thread(server_stage_ms, base, admin)
    level = await run_level(base, operator, probes, 1, duration, requests, warmup)
    level["server_inference_ms"] = stage_delta(before, await asyncio.to_thread(server_stage_ms, base, admin))
    return level


async def contended(base: str, operator: str, admin: str, viewers: list[str], probes: list[tuple[str, bytes]],
                    duration: float, requests: int) -> tuple[dict[str, object], dict[str, list[float] | int]]:
    """Identify from one client while every viewer key verifies in a loop (verifiers start first)."""
    stats: dict[str, list[float] | int] = {"seconds": [], "refused": 0, "errors": 0}
    stop_at = time.perf_counter() + duration + 2.0
    loops = [asyncio.create_task(verify_loop(base, token, stop_at, stats)) for token in viewers]
    await asyncio.sleep(2.0)  # let every verification get going before identify is timed
    level = await timed_phase(base, operator, admin, probes, duration, requests, 0)
    await asyncio.gather(*loops)
    return level, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="audit rows in the chain (default 300000)")
    parser.add_argument("--gallery", type=int, default=200, help="templates in the gallery (default 200)")
    parser.add_argument("--verifiers", type=int, default=4, help="concurrent verify clients (default 4)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of identify per phase (default 30)")
    parser.add_argument("--requests", type=int, default=400, help="max identify requests per phase")
    parser.add_argument("--backend", default="auto", help="face backend")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sightline-audit-") as tmp:
        home = Path(tmp)
        build_gallery(home, args.gallery, args.backend)
        fill_s = fill_chain(home, args.rows)
        with Gallery.open(home) as gallery:
            keys = KeyStore(gallery.sessions)
            operator = keys.create("bench-identify", "operator", created_by="bench").token
            admin = keys.create("bench-metrics", "admin", created_by="bench").token  # /metrics needs an admin key
            viewers = [keys.create(f"bench-verify-{n}", "viewer", created_by="bench").token
                       for n in range(args.verifiers)]
            chain_rows = gallery.audit.verify().rows
        examples = faces_small_dir() / "examples"
        probes = [(Path(p).name, (examples / p).read_bytes()) for p in PROBES]
        port = free_port()
        env_limits = {"SIGHTLINE_AUDIT_VERIFY_MAX": os.environ.get("SIGHTLINE_AUDIT_VERIFY_MAX", "default 4"),
                      "SIGHTLINE_AUDIT_VERIFY_PER_KEY": os.environ.get("SIGHTLINE_AUDIT_VERIFY_PER_KEY", "default 2")}
        server = start_server(home, port, 1, args.backend)
        try:
            base = f"http://127.0.0.1:{port}"
            idle = asyncio.run(timed_phase(base, operator, admin, probes, args.duration, args.requests, 4))
            busy, stats = asyncio.run(contended(base, operator, admin, viewers, probes, args.duration,
                                                args.requests))
            after = asyncio.run(timed_phase(base, operator, admin, probes, args.duration, args.requests, 0))
            last = httpx.get(f"{base}/api/v1/audit/verify", headers={"Authorization": f"Bearer {viewers[0]}"},
                             timeout=600).json()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    seconds = np.asarray(stats["seconds"], dtype=float)
    idle_p99 = [v for v in (idle["p99_ms"], after["p99_ms"]) if v]
    ratio = round(busy["p99_ms"] / max(idle_p99), 2) if busy["p99_ms"] and idle_p99 else None
    ratio_min = round(busy["p99_ms"] / min(idle_p99), 2) if busy["p99_ms"] and idle_p99 else None
    result = {"chain_rows": chain_rows, "fill_seconds": round(fill_s, 1), "verifiers": args.verifiers,
              "idle": idle, "with_verifies": busy, "idle_after": after, "p99_ratio": ratio,
              "p99_ratio_vs_best_idle": ratio_min,
              "verifies_completed": int(seconds.size),
              "verify_mean_s": round(float(seconds.mean()), 2) if seconds.size else None,
              "verifies_refused_429": stats["refused"], "verify_errors": stats["errors"],
              "chain_ok_after": last.get("ok"), "limits": env_limits, "machine": machine_summary()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"identify (1 client, real photos) on `sightline serve`, keyed audit chain of {chain_rows} rows "
          f"(filled in {fill_s:.0f} s), {args.verifiers} clients calling /audit/verify back to back in the busy phase")
    print(f"machine: {result['machine']}")
    print()
    def row(name: str, level: dict[str, object], *verify: object) -> list[object]:
        return [name, level["requests"], level["errors"], level["p50_ms"], level["p99_ms"],
                level["server_inference_ms"], *(verify or ("-", "-", "-"))]

    print(markdown_table(["phase", "identify requests", "errors", "p50 (ms)", "p99 (ms)",
                          "server inference mean (ms)", "verifies done", "verify mean (s)", "verify 429s"],
                         [row("idle", idle),
                          row(f"{args.verifiers} concurrent verifies", busy, result["verifies_completed"],
                              result["verify_mean_s"], result["verifies_refused_429"]),
                          row("idle again", after)]))
    print()
    print(f"p99 with verifies / idle p99: {ratio} against the slower idle phase, {ratio_min} against the faster "
          f"(goal: <= 2); chain still verifies afterwards: {result['chain_ok_after']}")


if __name__ == "__main__":
    main()
