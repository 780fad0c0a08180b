"""In-memory vector index for 1:N identification (FAISS inner product on L2-normalised templates).

Three kinds share one interface:

* ``exact`` - brute force (``IndexFlatIP``): always the true nearest templates.
* ``hnsw`` - graph search (``IndexHNSWFlat``): sub-linear, approximate.
* ``ivf`` - inverted lists (``IndexIVFFlat``): approximate; trains its coarse centroids on the
  first add that brings the index to ``39 * nlist`` templates and is exact until then.

Removal is erasure. When :meth:`VectorIndex.remove` returns, no vector of a removed id is left
in any buffer the index owns: rows are overwritten with zeros before the slot is released
(flat and IVF storage keep their spare capacity, so a row is scrubbed, not just dropped), and in
an HNSW graph the removed node is also unlinked in both directions (its neighbours are re-wired
through its own neighbours) so nothing can reach it. The HNSW slot itself (a zero vector with no
links) stays until :meth:`VectorIndex.compact` rebuilds the graph, which happens automatically once
tombstones exceed ``compact_ratio`` of the slots. Two derived traces remain until ``compact()``:
IVF centroids are means over at least 39 training templates each, and the HNSW links among the
remaining nodes were chosen while the removed node existed. Memory the allocator already freed
(old buffers left behind when storage grew) is not reachable through the index and is not zeroed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

import faiss
import numpy as np

from sightline.errors import ConfigError
from sightline.gallery.index_stores import (
    MIN_TRAIN_PER_LIST,
    TRAIN_POINTS_PER_LIST,
    VectorIndexError,
    _FlatStore,
    _HNSWStore,
    _IVFStore,
    _Store,
)

__all__ = ["KINDS", "MIN_TRAIN_PER_LIST", "TRAIN_POINTS_PER_LIST", "VectorIndex", "VectorIndexError", "set_threads",
           "unit_rows"]

KINDS = ("exact", "hnsw", "ivf")
_PARAMS: dict[str, dict[str, Any]] = {
    "exact": {},
    "hnsw": {"M": 32, "ef_search": 64, "ef_construction": 80, "compact_ratio": 0.25},
    "ivf": {"nlist": 256, "nprobe": 16},
}
_INT64_MAX = np.iinfo(np.int64).max
_threads_set = False


def set_threads(n: int | None = None) -> int:
    """Set FAISS's OpenMP thread count and return it.

    ``None`` reads ``$SIGHTLINE_INDEX_THREADS`` and falls back to every core. The setting is
    process-wide; single-query search runs on one thread anyway, more threads speed up builds
    and batched searches.
    """
    global _threads_set
    if n is None:
        raw = os.environ.get("SIGHTLINE_INDEX_THREADS", "").strip()
        try:
            n = int(raw) if raw else (os.cpu_count() or 1)
        except ValueError:
            raise ConfigError(f"SIGHTLINE_INDEX_THREADS must be a whole number, got {raw!r}") from None
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"index threads must be a whole number >= 1, got {n!r}")
    faiss.omp_set_num_threads(int(n))
    _threads_set = True
    return int(n)


class VectorIndex:
    """In-memory index of L2-normalised float32 templates keyed by int64 template ids.

    ``kind`` is ``"exact"``, ``"hnsw"`` (params ``M``, ``ef_search``, ``ef_construction``,
    ``compact_ratio``) or ``"ivf"`` (params ``nlist``, ``nprobe``). Scores are cosine similarities.
    All methods are thread-safe.
    """

    def __init__(self, dim: int, kind: str = "exact", *, threads: int | None = None, **params: Any) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ConfigError(f"index dimension must be a whole number >= 1, got {dim!r}")
        if kind not in KINDS:
            raise ConfigError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        unknown = set(params) - set(_PARAMS[kind])
        if unknown:
            allowed = ", ".join(_PARAMS[kind]) or "none"
            raise ConfigError(f"unknown parameter(s) {', '.join(sorted(unknown))} for a {kind} index "
                              f"(allowed: {allowed})")
        settings = {**_PARAMS[kind], **params}
        for name, value in settings.items():
            _check_param(name, value)
        if threads is not None or not _threads_set:
            set_threads(threads)
        self.dim = int(dim)
        self.kind = kind
        self.params = settings
        self._lock = threading.RLock()
        self._store: _Store
        if kind == "exact":
            self._store = _FlatStore(self.dim)
        elif kind == "hnsw":
            self._store = _HNSWStore(self.dim, **settings)
        else:
            self._store = _IVFStore(self.dim, **settings)

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Add templates; ``vectors`` are normalised to unit length (a copy; the input is untouched)."""
        id_arr = _as_ids(ids)
        matrix = unit_rows(vectors, self.dim, "vectors")
        if len(id_arr) != len(matrix):
            raise VectorIndexError(f"got {len(id_arr)} ids for {len(matrix)} vectors")
        if len(id_arr) == 0:
            return
        if len(np.unique(id_arr)) != len(id_arr):
            values, counts = np.unique(id_arr, return_counts=True)
            raise VectorIndexError(f"duplicate template ids in one add: {values[counts > 1][:5].tolist()}")
        try:
            with self._lock:
                clash = [i for i in id_arr.tolist() if self._store.contains(i)]
                if clash:
                    raise VectorIndexError(f"template ids already in the index: {clash[:5]} "
                                           "(remove them first to replace a template)")
                self._store.add(id_arr, matrix)
        finally:
            matrix.fill(0.0)  # scrub our normalised copy; FAISS holds its own

    def remove(self, ids: Iterable[int] | np.ndarray | int) -> int:
        """Erase templates; returns how many were present. Unknown ids are ignored."""
        id_arr = np.unique(_as_ids(ids))
        with self._lock:
            present = np.array([i for i in id_arr.tolist() if self._store.contains(i)], dtype=np.int64)
            return self._store.remove(present) if len(present) else 0

    def search(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar templates per query: ``(scores, ids)``, both ``(n_queries, k)``.

        Rows are best first; slots with no template have id -1 and score ``-inf``.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be a whole number >= 1, got {k!r}")
        matrix = unit_rows(queries, self.dim, "queries")
        k = int(k)
        with self._lock:
            if len(matrix) == 0 or len(self._store) == 0:
                return (np.full((len(matrix), k), -np.inf, dtype=np.float32),
                        np.full((len(matrix), k), -1, dtype=np.int64))
            scores, labels = self._store.search(matrix, k)
        scores = scores.astype(np.float32, copy=False)
        scores[labels < 0] = -np.inf
        return scores, labels

    def set_search_params(self, **params: int) -> None:
        """Change search-time settings without rebuilding: ``ef_search`` (hnsw) or ``nprobe`` (ivf)."""
        allowed = {"hnsw": ("ef_search",), "ivf": ("nprobe",)}.get(self.kind, ())
        unknown = set(params) - set(allowed)
        if unknown:
            raise ConfigError(f"a {self.kind} index has no search parameter {', '.join(sorted(unknown))} "
                              f"(allowed: {', '.join(allowed) or 'none'})")
        for name, value in params.items():
            _check_param(name, value)
        with self._lock:
            self.params.update(params)
            self._store.set_search_params(**params)

    def compact(self) -> None:
        """Drop tombstones and rebuild derived structures (HNSW graph, IVF centroids) from what is left."""
        with self._lock:
            self._store.compact()

    def stored_vectors(self) -> np.ndarray:
        """A copy of every vector row the index holds, tombstone slots included (for erasure audits)."""
        with self._lock:
            return self._store.stored_vectors()

    def ids(self) -> np.ndarray:
        """All template ids, ascending."""
        with self._lock:
            return np.sort(self._store.ids())

    def memory_bytes(self) -> int:
        """Approximate bytes held: vectors, graph or lists, id maps (including Python's)."""
        with self._lock:
            return int(self._store.memory_bytes())

    def __len__(self) -> int:
        with self._lock:
            return len(self._store)

    def __contains__(self, template_id: object) -> bool:
        if isinstance(template_id, bool) or not isinstance(template_id, int | np.integer):
            return False
        with self._lock:
            return self._store.contains(int(template_id))

    def __repr__(self) -> str:
        return f"VectorIndex(dim={self.dim}, kind={self.kind!r}, size={len(self)})"


# --- input validation ------------------------------------------------------------------------


def _check_param(name: str, value: Any) -> None:
    if name == "compact_ratio":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ConfigError(f"compact_ratio must be in (0, 1], got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"index parameter {name} must be a whole number >= 1, got {value!r}")


def _as_ids(ids: Any) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype == object or arr.dtype.kind not in "iu":
        raise VectorIndexError(f"template ids must be integers, got {arr.dtype}")
    arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.ndim != 1:
        raise VectorIndexError(f"template ids must be a 1-D sequence, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or (arr.dtype.kind == "u" and arr.max() > _INT64_MAX)):
        raise VectorIndexError("template ids must be between 0 and 2**63-1 (-1 marks an empty result)")
    return np.ascontiguousarray(arr, dtype=np.int64)


def unit_rows(values: Any, dim: int | None, what: str) -> np.ndarray:
    """A fresh C-contiguous float32 ``(n, dim)`` copy of ``values``, each row scaled to unit length
    (``dim`` None: any width); :class:`VectorIndexError` when unusable, with the copy zeroed first."""
    try:
        matrix = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise VectorIndexError(f"{what} must be a numeric array: {err}") from None
    if matrix.dtype.kind != "f":
        raise VectorIndexError(f"{what} must be floating point (float32 preferred), got {matrix.dtype}")
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or (dim is not None and matrix.shape[1] != dim) or matrix.shape[1] == 0:
        raise VectorIndexError(f"{what} must have shape (n, {dim if dim is not None else 'dim'}) for this index, "
                               f"got {matrix.shape}")
    out = np.array(matrix, dtype=np.float32, order="C", copy=True)
    if not np.isfinite(out).all():
        out.fill(0.0)
        raise VectorIndexError(f"{what} contain NaN or infinite values")
    norms = np.sqrt(np.einsum("ij,ij->i", out, out, dtype=np.float64))
    if len(norms) and norms.min() < 1e-12:
        out.fill(0.0)
        raise VectorIndexError(f"{what} contain an all-zero vector, which has no direction to compare")
    out /= norms[:, None].astype(np.float32)
    return out
