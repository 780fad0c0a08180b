"""Sharded 1:N search on a Ray cluster: N :class:`~sightline.cluster.shard_actor.IndexShard` actors.

:class:`ShardedIndex` (driver side) starts one actor per shard, spread over the cluster's nodes
(``scheduling_strategy="SPREAD"``), each restarted by Ray without limit (``max_restarts=-1``) and,
when given a :class:`~sightline.cluster.shard_actor.StoreSpec`, rebuilt from the encrypted store on
every (re)start. A search is scatter-gather: the query goes to every shard, each answers its own
top-k, and the driver merges them by score (ties by smaller template id). A shard that does not
answer within the per-call timeout (dead, restarting, overloaded) is a :class:`ShardUnavailableError`,
never a partial answer. Templates and queries are sent in small batches that travel inside the call
(never through Ray's object store, which can spill to disk). Adds and removals go to the shard that owns the template id
(``template_id % shards``). Connect to the cluster first (:func:`sightline.cluster.runtime.connect`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from sightline.cluster.runtime import require_ray
from sightline.cluster.shard_actor import KINDS, IndexShard, Source, StoreSpec, check_k, merge_top_k, owner
from sightline.errors import ConfigError, SightlineError
from sightline.gallery.index import VectorIndexError, unit_rows

__all__ = ["KINDS", "ShardUnavailableError", "ShardedIndex", "StoreSpec"]

# Templates and queries are biometric data: send at most this many bytes of them per call, so that they
# travel inline in the call (Ray inlines arguments under 100 KiB) and never enter the shared object store,
# which Ray may spill to disk. 64 KiB: 42 templates of 384 float32 values.
INLINE_BYTES = 64 * 1024


def rows_per_call(dim: int) -> int:
    """How many float32 rows of ``dim`` values one call may carry inline."""
    return max(1, INLINE_BYTES // (4 * dim))


class ShardUnavailableError(SightlineError):
    """A shard did not answer in time (its actor is dead, restarting or overloaded); no partial results."""

    code = "shard_unavailable"
    exit_code = 12


class ShardedIndex:
    """Templates partitioned over ``shards`` Ray actors; search, add and remove from the driver."""

    def __init__(self, shards: int, *, kind: str = "exact", params: dict[str, Any] | None = None,
                 dim: int | None = None, store: StoreSpec | None = None, timeout_s: float = 10.0,
                 start_timeout_s: float = 300.0, num_cpus: float = 0.0, threads: int = 1,
                 name: str | None = None) -> None:
        ray = require_ray()
        if not ray.is_initialized():
            raise ConfigError("not connected to a Ray cluster: call sightline.cluster.runtime.connect(address) first",
                              code="cluster_unreachable")
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise ConfigError(f"shards must be a whole number >= 1, got {shards!r}")
        if not isinstance(timeout_s, int | float) or timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s!r}")
        if kind not in KINDS:
            raise ConfigError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        self._ray = ray
        self.shards, self.kind, self.timeout_s, self.dim = shards, kind, float(timeout_s), dim
        remote = ray.remote(IndexShard)
        self._actors = [
            remote.options(max_restarts=-1, max_task_retries=0, scheduling_strategy="SPREAD", num_cpus=num_cpus,
                           name=f"{name}-{i}" if name else None)
            .remote(i, shards, kind=kind, params=params, dim=dim, store=store, threads=threads)
            for i in range(shards)
        ]
        try:
            infos = self.info(timeout_s=start_timeout_s)
            dims = {i["dim"] for i in infos if i["dim"] is not None}
            if len(dims) > 1:
                raise ConfigError(f"shards disagree on the template dimension: {sorted(dims)}")
        except BaseException:
            self.close()  # no orphan actors restarting forever
            raise
        self.dim = dim if dim is not None else (dims.pop() if dims else None)

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def actors(self) -> list[Any]:
        """The shard actor handles, by shard number."""
        return list(self._actors)

    def _gather(self, refs: Sequence[Any], what: str, timeout_s: float | None = None) -> list[Any]:
        """Results of one call per shard, or ShardUnavailableError naming the shards that did not answer."""
        ray = self._ray
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            return ray.get(list(refs), timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            _, pending = ray.wait(list(refs), num_returns=len(refs), timeout=0)
            late = sorted(i for i, ref in enumerate(refs) if ref in pending)
            raise ShardUnavailableError(f"{what}: shard(s) {late} of {self.shards} did not answer within "
                                        f"{timeout:g} s (dead or restarting)") from None
        except ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, SightlineError):
                raise cause from None
            raise
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as err:
            if "creation task" in str(err):  # the shard's constructor raised: bad settings, key, store
                last = [line.strip() for line in str(err).splitlines() if line.strip()][-1]
                raise ConfigError(f"{what}: a shard failed to start: {last}", code="shard_start_failed") from None
            raise ShardUnavailableError(f"{what}: a shard died during the call ({type(err).__name__}); "
                                        "Ray restarts it from the store, retry") from None

    def info(self, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Each shard's :meth:`IndexShard.info` (size, memory, node, whether restarted), by shard number."""
        return self._gather([a.info.remote() for a in self._actors], "info", timeout_s)

    def wait_ready(self, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Block until every shard answers (for instance after Ray restarted one); returns their info."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.info(timeout_s=max(0.1, min(5.0, deadline - time.monotonic())))
            except ShardUnavailableError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    # -- the index ------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, ids)`` over every shard, each ``(n_queries, k)``; empty slots are (-inf, -1)."""
        k = check_k(k)
        matrix = unit_rows(queries, self.dim, "queries")
        step = rows_per_call(matrix.shape[1])
        batches = [matrix[lo:lo + step] for lo in range(0, max(1, len(matrix)), step)]
        refs = [a.search.remote(batch, k) for batch in batches for a in self._actors]
        answers = self._gather(refs, "search")
        matrix.fill(0.0)
        merged = [merge_top_k(answers[b * self.shards:(b + 1) * self.shards], k) for b in range(len(batches))]
        return np.vstack([s for s, _ in merged]), np.vstack([i for _, i in merged])

    def add(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, *, skip_present: bool = False) -> int:
        """Add templates, each to the shard that owns its id; returns how many were sent. ``skip_present``:
        ids a shard already holds (rebuilt from the store) are skipped instead of refused."""
        id_arr = np.asarray(ids)
        if id_arr.dtype.kind not in "iu" or id_arr.ndim != 1:
            raise VectorIndexError("template ids must be a 1-D sequence of integers")
        matrix = unit_rows(vectors, self.dim, "vectors")
        if len(id_arr) != len(matrix):
            raise VectorIndexError(f"got {len(id_arr)} ids for {len(matrix)} vectors")
        where = owner(id_arr.astype(np.int64), self.shards)
        refs, step = [], rows_per_call(matrix.shape[1])
        for s in range(self.shards):  # a shard runs one caller's calls in the order they were sent
            mine = np.flatnonzero(where == s)
            refs += [self._actors[s].add.remote(id_arr[rows], matrix[rows], skip_present)
                     for rows in (mine[lo:lo + step] for lo in range(0, len(mine), step))]
        self._gather(refs, "add")
        matrix.fill(0.0)
        if self.dim is None and len(matrix):
            self.dim = int(matrix.shape[1])
        return len(id_arr)

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Erase templates from the owning shards' memory; returns how many were held."""
        id_arr = np.asarray(ids)
        if id_arr.size and (id_arr.dtype.kind not in "iu" or id_arr.min() < 0):
            raise VectorIndexError("template ids must be integers >= 0")
        id_arr = id_arr.astype(np.int64).reshape(-1)
        where = owner(id_arr, self.shards)
        refs = [self._actors[s].remove.remote(id_arr[where == s]) for s in range(self.shards) if np.any(where == s)]
        return int(sum(self._gather(refs, "remove")))

    def refresh(self) -> tuple[int, int]:
        """Bring every shard in line with the store (after erasures or enrolments elsewhere): (added, removed)."""
        results = self._gather([a.refresh.remote() for a in self._actors], "refresh")
        return sum(a for a, _ in results), sum(r for _, r in results)

    def set_search_params(self, **params: int) -> None:
        """Search-time settings on every shard: ``nprobe`` (ivf, ivf-sq8) or ``ef_search`` (hnsw)."""
        self._gather([a.set_search_params.remote(**params) for a in self._actors], "set_search_params")

    def search_stats(self, reset: bool = False) -> list[dict[str, float]]:
        """Each shard's search count and in-shard p50/p99 ms (no transport); ``reset`` clears them."""
        return self._gather([a.search_stats.remote(reset) for a in self._actors], "search_stats")

    def size(self) -> int:
        """Templates held over all shards."""
        return int(sum(self._gather([a.size.remote() for a in self._actors], "size")))

    def memory_bytes(self) -> list[int]:
        """Approximate index bytes of each shard."""
        return [int(b) for b in self._gather([a.memory_bytes.remote() for a in self._actors], "memory_bytes")]

    # -- bulk (benchmarks, migrations) ---------------------------------------------------------------
    def load(self, source: Source, timeout_s: float = 3600.0) -> list[dict[str, float]]:
        """Bulk-load every (empty) shard in parallel from ``source(shard, shards)``, run inside the shards."""
        results = self._gather([a.load.remote(source) for a in self._actors], "load", timeout_s)
        infos = self.info()
        self.dim = next((i["dim"] for i in infos if i["dim"] is not None), self.dim)
        return results

    def exact_scan(self, source: Source, queries: np.ndarray, k: int,
                   timeout_s: float = 3600.0) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` over ``source``'s templates, scanned in chunks inside the shards (recall ground truth).

        For synthetic benchmark data: the queries go in one call, through the object store when large.
        """
        k = check_k(k)
        matrix = unit_rows(queries, self.dim, "queries")
        refs = [a.exact_scan.remote(source, matrix, k) for a in self._actors]
        return merge_top_k(self._gather(refs, "exact_scan", timeout_s), k)

    def close(self) -> None:
        """Stop every shard actor (for good: Ray does not restart them)."""
        for actor in self._actors:
            with contextlib.suppress(ValueError, self._ray.exceptions.RayError):  # already gone
                self._ray.kill(actor, no_restart=True)
        self._actors = []

    def __enter__(self) -> ShardedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
