"""One shard of a sharded 1:N template index, run as a Ray actor (:class:`IndexShard`).

Partition: a template belongs to shard ``template_id % shards`` (:func:`owner`). Template ids are the
store's primary keys, so the split is even, needs no lookup table, and any process can route an add
or a removal to the owning shard. Changing the number of shards means restarting every shard (each
rebuilds itself from the store).

Given a :class:`StoreSpec`, a shard builds itself from the encrypted store when it starts, and again
whenever Ray restarts it after a crash: it reads the ciphertext rows of the current embedder and
decrypts only those of its own partition, through the gallery's own
:meth:`~sightline.gallery.context.GalleryContext.decrypt_template`. Plaintext lives only in the FAISS
index (the decrypted copies are zeroed once added); nothing is written to disk or the database.

Index kinds: ``exact``, ``hnsw`` and ``ivf`` are :class:`~sightline.gallery.index.VectorIndex`;
``ivf-sq8`` is :class:`~sightline.cluster.compact_index.CompactIVF` (one byte per value, for shards
of millions of templates).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sightline.cluster.compact_index import DEFAULT_PARAMS, CompactIVF, exact_top_k
from sightline.errors import ConfigError
from sightline.gallery.index import KINDS as FLOAT_KINDS
from sightline.gallery.index import VectorIndex, VectorIndexError, set_threads, unit_rows

KINDS = (*FLOAT_KINDS, "ivf-sq8")
# A bulk source: called in the shard as source(shard, shards), yields (ids, vectors) chunks of that partition.
Source = Callable[[int, int], Iterable[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class StoreSpec:
    """Where a shard finds the encrypted templates: the data home (keys), the database, the embedder."""

    home: str
    db_url: str | None = None
    models_dir: str | None = None
    backend: str = "auto"
    embedder: str | None = None  # default: the embedder of ``backend`` (resolved without loading models)

    def embedder_name(self) -> str:
        """The embedder whose templates are searchable."""
        if self.embedder:
            return self.embedder
        from sightline.engine import FaceEngine

        return FaceEngine(self.backend, models_dir=self.models_dir).spec.embedder


def owner(template_id: int | np.ndarray, shards: int) -> Any:
    """The shard that holds ``template_id`` (works on arrays too)."""
    return template_id % shards


def check_k(k: object) -> int:
    """``k`` as an int, or VectorIndexError when it is not a whole number >= 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise VectorIndexError(f"k must be a whole number >= 1, got {k!r}")
    return int(k)


def merge_top_k(parts: Iterable[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard ``(scores, ids)`` results into the overall top-``k``: best score first, ties by smaller id."""
    parts = list(parts)
    scores = np.concatenate([np.asarray(s, dtype=np.float32) for s, _ in parts], axis=1)
    ids = np.concatenate([np.asarray(i, dtype=np.int64) for _, i in parts], axis=1)
    empty = ids < 0
    id_key = np.where(empty, np.iinfo(np.int64).max, ids)
    order = np.lexsort((id_key, np.where(empty, np.inf, -scores)), axis=-1)[:, :k]
    out_scores = np.take_along_axis(scores, order, axis=1)
    out_ids = np.take_along_axis(ids, order, axis=1)
    if out_ids.shape[1] < k:  # fewer slots than k in total
        pad = k - out_ids.shape[1]
        out_scores = np.pad(out_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        out_ids = np.pad(out_ids, ((0, 0), (0, pad)), constant_values=-1)
    out_scores[out_ids < 0] = -np.inf
    return out_scores, out_ids


def _rss_bytes() -> int:
    """Resident memory of this process (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class IndexShard:
    """One partition of the gallery's templates in a FAISS index (wrap with ``ray.remote`` to run it as an actor)."""

    def __init__(self, shard: int, shards: int, *, kind: str = "exact", params: dict[str, Any] | None = None,
                 dim: int | None = None, store: StoreSpec | None = None, threads: int = 1) -> None:
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise ConfigError(f"shards must be a whole number >= 1, got {shards!r}")
        if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < shards:
            raise ConfigError(f"shard must be in 0..{shards - 1}, got {shard!r}")
        if kind not in KINDS:
            raise ConfigError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.shard, self.shards, self.kind = shard, shards, kind
        self.params = dict(params or {})
        self.dim = dim
        self.threads = set_threads(threads)
        self.build_seconds = 0.0
        self._search_ms: deque[tuple[float, float]] = deque(maxlen=100_000)  # recent (wall, CPU) search times
        self._index: VectorIndex | CompactIVF | None = None
        if dim is not None:
            self._index = self._new_index(dim)  # validates the parameters now
        self._spec = store
        self._embedder = store.embedder_name() if store is not None else ""
        if store is not None:
            self._rebuild()

    # -- building --------------------------------------------------------------------------------
    def _new_index(self, dim: int) -> VectorIndex | CompactIVF:
        if self.kind == "ivf-sq8":
            unknown = set(self.params) - set(DEFAULT_PARAMS)
            if unknown:
                raise ConfigError(f"unknown parameter(s) {', '.join(sorted(unknown))} for an ivf-sq8 index "
                                  f"(allowed: {', '.join(DEFAULT_PARAMS)})")
            return CompactIVF(dim, **self.params)
        return VectorIndex(dim, self.kind, **self.params)

    @contextmanager
    def _store(self) -> Iterator[Any]:
        """The gallery's context over the store (keys, sessions); the connection pool is closed afterwards."""
        from sightline.gallery.context import GalleryContext
        from sightline.privacy.crypto import KeyRing
        from sightline.store.db import create_db_engine, default_db_url

        spec = self._spec
        assert spec is not None
        home = Path(spec.home)
        db = create_db_engine(spec.db_url or default_db_url(home))
        try:
            yield GalleryContext(home, db, KeyRing.load(home), engine=None, actor=f"index-shard-{self.shard}")
        finally:
            db.dispose()

    def _add_decrypted(self, ctx: Any, rows: Iterable[Any]) -> int:
        """Decrypt the template rows of this shard's partition (others are skipped unread) and add them."""
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        for row in rows:
            if owner(row.id, self.shards) == self.shard:  # decrypt only our own partition
                ids.append(int(row.id))
                vectors.append(ctx.decrypt_template(row))
        if vectors:
            matrix = np.vstack(vectors)
            for vector in vectors:
                vector.fill(0.0)
            self.add(np.asarray(ids, dtype=np.int64), matrix)
            matrix.fill(0.0)
        return len(ids)

    def _rebuild(self) -> None:
        """Decrypt this shard's partition of the store's templates into the (empty) index."""
        from sightline.store import templates_repo

        started = time.perf_counter()
        with self._store() as ctx, ctx.sessions() as session:
            self._add_decrypted(ctx, templates_repo.iter_template_rows(session, self._embedder))
        self.build_seconds = time.perf_counter() - started

    def refresh(self) -> tuple[int, int]:
        """Bring this shard in line with the store after another process changed it: (added, removed).

        Templates erased from the store (erasure, retention, "not this person") leave the shard's memory;
        templates enrolled elsewhere are decrypted and added.
        """
        from sightline.store import templates_repo

        if self._spec is None:
            raise ConfigError("this shard was not built from a store; nothing to refresh from")
        with self._store() as ctx, ctx.sessions() as session:
            stored = {i for i in templates_repo.template_ids(session, self._embedder)
                      if owner(i, self.shards) == self.shard}
            known = set(self._index.ids().tolist()) if self._index is not None else set()
            removed = self.remove(np.asarray(sorted(known - stored), dtype=np.int64))
            added = self._add_decrypted(ctx, templates_repo.templates_by_id(session, sorted(stored - known)))
        return added, removed

    def load(self, source: Source) -> dict[str, float]:
        """Bulk-load an empty shard from ``source(shard, shards)`` chunks (ids ascending across chunks)."""
        if self._index is not None and len(self._index):
            raise ConfigError(f"shard {self.shard} already holds templates; bulk load needs an empty shard")
        started, last = time.perf_counter(), -1
        for ids, vectors in source(self.shard, self.shards):
            ids = np.asarray(ids, dtype=np.int64)
            if len(ids) and (ids[0] <= last or np.any(np.diff(ids) <= 0)):
                raise VectorIndexError("bulk-load ids must be strictly ascending across chunks")
            self._check_owned(ids)
            self._add_unchecked(ids, unit_rows(vectors, self.dim, "vectors"))
            last = int(ids[-1]) if len(ids) else last
        self.build_seconds = time.perf_counter() - started
        return {"seconds": self.build_seconds, "size": float(self.size())}

    # -- the shard's interface ----------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, ids)`` of this shard per query, best first; empty slots are (-inf, -1)."""
        started, cpu = time.perf_counter(), time.thread_time()
        k = check_k(k)
        matrix = unit_rows(queries, self.dim, "queries")
        if self._index is None:
            return np.full((len(matrix), k), -np.inf, dtype=np.float32), np.full((len(matrix), k), -1, np.int64)
        result = self._index.search(matrix, k)
        self._search_ms.append(((time.perf_counter() - started) * 1000.0, (time.thread_time() - cpu) * 1000.0))
        return result

    def search_stats(self, reset: bool = False) -> dict[str, float]:
        """Searches answered and their in-shard time without Ray's transport, p50/p99 in ms: wall time
        (``p50_ms``, ``p99_ms``: includes waiting for a core) and CPU time of the searching thread
        (``cpu_p50_ms``, ``cpu_p99_ms``: FAISS runs single-query searches on it). ``reset`` clears them."""
        times = np.asarray(self._search_ms, dtype=np.float64).reshape(-1, 2)
        stats = {"count": float(len(times))}
        for name, column in (("", 0), ("cpu_", 1)):
            for q in (50, 99):
                stats[f"{name}p{q}_ms"] = float(np.percentile(times[:, column], q)) if len(times) else float("nan")
        if reset:
            self._search_ms.clear()
        return stats

    def add(self, ids: np.ndarray, vectors: np.ndarray, skip_present: bool = False) -> int:
        """Add templates this shard owns; returns the shard's new size. ``skip_present``: ids the shard holds
        already (it rebuilt itself from the store) are left as they are instead of refused."""
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim != 1 or (ids.size and ids.min() < 0):
            raise VectorIndexError("template ids must be a 1-D sequence of integers >= 0")
        ids = ids.astype(np.int64)
        self._check_owned(ids)
        matrix = unit_rows(vectors, self.dim, "vectors")
        if len(ids) != len(matrix):
            raise VectorIndexError(f"got {len(ids)} ids for {len(matrix)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise VectorIndexError("duplicate template ids in one add")
        clash = [i for i in ids.tolist() if self._index is not None and i in self._index]
        if clash and skip_present:
            keep = ~np.isin(ids, np.asarray(clash, dtype=np.int64))
            ids, matrix = ids[keep], matrix[keep]
        elif clash:
            raise VectorIndexError(f"template ids already in shard {self.shard}: {clash[:5]}")
        self._add_unchecked(ids, matrix)
        return self.size()

    def _check_owned(self, ids: np.ndarray) -> None:
        foreign = ids[owner(ids, self.shards) != self.shard]
        if len(foreign):
            raise VectorIndexError(f"template ids {foreign[:5].tolist()} belong to another shard, "
                                   f"not shard {self.shard} of {self.shards}")

    def _add_unchecked(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        if not len(ids):
            return
        if self._index is None:
            self.dim = int(matrix.shape[1])
            self._index = self._new_index(self.dim)
        self._index.add(ids, matrix)
        matrix.fill(0.0)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Erase templates from this shard's memory; returns how many it held."""
        ids = np.asarray(ids)
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0):
            raise VectorIndexError("template ids must be integers >= 0")
        if self._index is None or not ids.size:
            return 0
        return int(self._index.remove(ids.astype(np.int64).reshape(-1)))

    def set_search_params(self, **params: int) -> None:
        """Search-time settings: ``nprobe`` (ivf, ivf-sq8) or ``ef_search`` (hnsw)."""
        self.params.update(params)
        if self._index is not None:
            self._index.set_search_params(**params)

    def size(self) -> int:
        """Templates held."""
        return len(self._index) if self._index is not None else 0

    def memory_bytes(self) -> int:
        """Approximate bytes held by the index."""
        return self._index.memory_bytes() if self._index is not None else 0

    def info(self) -> dict[str, Any]:
        """Shard number, size, dimension, index kind and settings, memory, node and whether Ray restarted it."""
        details: dict[str, Any] = {
            "shard": self.shard, "shards": self.shards, "kind": self.kind, "params": dict(self.params),
            "dim": self.dim, "size": self.size(), "index_bytes": self.memory_bytes(), "rss_bytes": _rss_bytes(),
            "build_seconds": self.build_seconds, "pid": os.getpid(), "node_id": "", "restarted": False,
        }
        try:
            import ray

            if ray.is_initialized():
                context = ray.get_runtime_context()
                details["node_id"] = context.get_node_id()
                details["restarted"] = bool(context.was_current_actor_reconstructed)
        except ImportError:  # used outside Ray (a plain object)
            pass
        return details

    def exact_scan(self, source: Source, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` over ``source``'s chunks of this partition (ground truth for recall; nothing kept)."""
        k = check_k(k)
        matrix = unit_rows(queries, self.dim, "queries")
        best = (np.full((len(matrix), k), -np.inf, dtype=np.float32), np.full((len(matrix), k), -1, np.int64))
        for ids, vectors in source(self.shard, self.shards):
            rows = unit_rows(vectors, self.dim, "vectors")
            best = merge_top_k([best, exact_top_k(matrix, rows, np.asarray(ids, dtype=np.int64), k)], k)
            rows.fill(0.0)
        return best
