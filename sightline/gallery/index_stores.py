"""Storage back ends of :class:`sightline.gallery.index.VectorIndex`: flat, HNSW and IVF.

Each keeps template ids beside FAISS positions and scrubs a removed row (zeros) before releasing
it; HNSW also unlinks removed nodes both ways. Called under the VectorIndex's lock.
"""

from __future__ import annotations

import sys

import faiss
import numpy as np

from sightline.errors import SightlineError

MIN_TRAIN_PER_LIST = 39  # FAISS warns below 39 training points per centroid
TRAIN_POINTS_PER_LIST = 128  # k-means sample size per centroid (FAISS default 256)


class VectorIndexError(SightlineError):
    """Bad input to the vector index: wrong shape, dtype, non-finite values, duplicate ids, bad k."""

    code = "bad_vector_input"
    exit_code = 2


# --- storage back ends -----------------------------------------------------------------------


def _int_map_bytes(mapping: dict | set) -> int:
    """Rough size of a Python dict/set of ints, int objects included."""
    per_item = 64 if isinstance(mapping, dict) else 32
    return sys.getsizeof(mapping) + per_item * len(mapping)


def _flat_rows(flat: faiss.IndexFlat, dim: int) -> np.ndarray:
    """A writable view of the rows an ``IndexFlat`` stores."""
    n = flat.ntotal
    if n == 0:
        return np.empty((0, dim), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), n * dim).reshape(n, dim)


def _map_labels(labels: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Translate FAISS result positions to template ids (-1 stays -1)."""
    if len(labels) == 0:
        return np.full(positions.shape, -1, dtype=np.int64)
    return np.where(positions >= 0, labels[np.maximum(positions, 0)], -1).astype(np.int64)


class _Store:
    """What every back end provides (under the caller's lock)."""

    def __len__(self) -> int: ...
    def contains(self, template_id: int) -> bool: ...
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> int: ...
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def ids(self) -> np.ndarray: ...
    def stored_vectors(self) -> np.ndarray: ...
    def memory_bytes(self) -> int: ...
    def compact(self) -> None: ...

    def set_search_params(self, **params: int) -> None:
        for name, value in params.items():
            setattr(self, name, int(value))


class _FlatStore(_Store):
    """Dense rows; removal moves the last rows into the holes and zeroes the vacated tail."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.index = faiss.IndexFlatIP(dim)
        self.labels = np.empty(0, dtype=np.int64)  # row -> template id
        self.rows: dict[int, int] = {}  # template id -> row

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def contains(self, template_id: int) -> bool:
        return template_id in self.rows

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        start = int(self.index.ntotal)
        self.index.add(vectors)
        self.labels = np.concatenate([self.labels, ids])
        self.rows.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))

    def remove(self, ids: np.ndarray) -> int:
        doomed = np.array([self.rows.pop(i) for i in ids.tolist()], dtype=np.int64)
        total, gone = int(self.index.ntotal), len(doomed)
        keep = total - gone
        rows = _flat_rows(self.index, self.dim)
        is_doomed = np.zeros(total, dtype=bool)
        is_doomed[doomed] = True
        holes = np.flatnonzero(is_doomed[:keep])
        movers = keep + np.flatnonzero(~is_doomed[keep:])
        rows[holes] = rows[movers]  # overwrite the removed rows with survivors from the tail
        rows[keep:] = 0.0  # then scrub the tail before FAISS shrinks past it
        moved = self.labels[movers]
        self.labels[holes] = moved
        self.labels = self.labels[:keep].copy()
        self.rows.update(zip(moved.tolist(), holes.tolist(), strict=True))
        self.index.remove_ids(faiss.IDSelectorRange(keep, total))
        return gone

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, positions = self.index.search(queries, k)
        return scores, _map_labels(self.labels, positions)

    def ids(self) -> np.ndarray:
        return self.labels.copy()

    def stored_vectors(self) -> np.ndarray:
        return _flat_rows(self.index, self.dim).copy()

    def memory_bytes(self) -> int:
        return int(self.index.ntotal) * self.dim * 4 + self.labels.nbytes + _int_map_bytes(self.rows)

    def compact(self) -> None:
        """Nothing to do: flat storage never keeps tombstones."""


class _HNSWStore(_Store):
    """HNSW graph; removal scrubs the vector and unlinks the node, compaction rebuilds the graph."""

    def __init__(self, dim: int, M: int, ef_search: int, ef_construction: int,  # noqa: N803
                 compact_ratio: float) -> None:
        self.dim, self.M, self.ef_search, self.ef_construction = dim, M, ef_search, ef_construction
        self.compact_ratio = compact_ratio
        self.index = self._new_index()
        self.labels = np.empty(0, dtype=np.int64)  # node -> template id, -1 for a tombstone
        self.nodes: dict[int, int] = {}  # template id -> node

    def _new_index(self) -> faiss.IndexHNSWFlat:
        index = faiss.IndexHNSWFlat(self.dim, self.M, faiss.METRIC_INNER_PRODUCT)
        # Fill level-0 lists back up to 2*M with the candidates the pruning heuristic dropped. Without
        # this, crowded face-like data leaves ~5 % of nodes unreachable (recall@1 stuck near 0.94 at
        # 100k whatever ef_search; 0.998 with it, see bench/search.py).
        index.keep_max_size_level0 = True
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        return index

    def _rows(self) -> np.ndarray:
        return _flat_rows(faiss.downcast_index(self.index.storage), self.dim)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def tombstones(self) -> int:
        return int(self.index.ntotal) - len(self.nodes)

    def contains(self, template_id: int) -> bool:
        return template_id in self.nodes

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        start = int(self.index.ntotal)
        self.index.add(vectors)
        self.labels = np.concatenate([self.labels, ids])
        self.nodes.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))

    def remove(self, ids: np.ndarray) -> int:
        doomed = np.array([self.nodes.pop(i) for i in ids.tolist()], dtype=np.int64)
        self.labels[doomed] = -1
        if not self.nodes:  # nothing left: drop the whole graph
            self._rows()[:] = 0.0
            self.index = self._new_index()
            self.labels = np.empty(0, dtype=np.int64)
            return len(doomed)
        self._unlink(doomed)
        self._rows()[doomed] = 0.0
        if self.tombstones > self.compact_ratio * self.index.ntotal:
            self.compact()
        return len(doomed)

    def _unlink(self, doomed: np.ndarray) -> None:
        """Cut every edge to and from ``doomed`` nodes, re-wiring their neighbours through them."""
        hnsw = self.index.hnsw
        links = faiss.rev_swig_ptr(hnsw.neighbors.data(), hnsw.neighbors.size())  # writable int32 view
        offsets = faiss.vector_to_array(hnsw.offsets).astype(np.int64)
        per_level = faiss.vector_to_array(hnsw.cum_nneighbor_per_level).astype(np.int64)
        levels = faiss.vector_to_array(hnsw.levels)  # number of levels each node lives on
        rows = self._rows()
        is_doomed = np.zeros(int(self.index.ntotal), dtype=bool)
        is_doomed[doomed] = True

        def segment(node: int, level: int) -> tuple[int, int]:
            base = offsets[node]
            return int(base + per_level[level]), int(base + per_level[level + 1])

        hits = np.flatnonzero(np.isin(links, doomed, kind="table"))
        nodes = np.searchsorted(offsets, hits, side="right") - 1
        lvls = np.searchsorted(per_level, hits - offsets[nodes], side="right") - 1
        for node, level in sorted(set(zip(nodes.tolist(), lvls.tolist(), strict=True))):
            if is_doomed[node]:
                continue
            begin, end = segment(node, level)
            current = links[begin:end]
            current = current[current >= 0]
            kept = current[~is_doomed[current]]
            candidates: list[int] = []
            for gone in current[is_doomed[current]].tolist():
                b, e = segment(gone, level)
                candidates.extend(links[b:e].tolist())
            pool = np.unique(np.array(candidates, dtype=np.int64))
            pool = pool[(pool >= 0) & (pool != node)]
            pool = pool[~is_doomed[pool] & (self.labels[pool] >= 0) & ~np.isin(pool, kept)]
            free = (end - begin) - len(kept)
            if len(pool) > free:
                pool = pool[np.argsort(-(rows[pool] @ rows[node]), kind="stable")[:free]]
            fresh = np.concatenate([kept, pool]).astype(np.int32)
            links[begin:end] = -1
            links[begin:begin + len(fresh)] = fresh
        for node in doomed.tolist():
            links[offsets[node]:offsets[node + 1]] = -1
        if is_doomed[hnsw.entry_point]:
            alive = np.where(self.labels >= 0, levels, 0)
            entry = int(np.argmax(alive))
            hnsw.entry_point = entry
            hnsw.max_level = int(alive[entry]) - 1

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self.index.hnsw.efSearch = max(self.ef_search, k)
        scores, positions = self.index.search(queries, k)
        labels = _map_labels(self.labels, positions)
        stale = (positions >= 0) & (labels < 0)
        if stale.any():  # unreachable by construction; kept as a guard so a tombstone never surfaces
            scores = np.where(stale, -np.inf, scores)
            order = np.argsort(-scores, axis=1, kind="stable")
            scores, labels = np.take_along_axis(scores, order, 1), np.take_along_axis(labels, order, 1)
            labels[~np.isfinite(scores)] = -1
        return scores, labels

    def ids(self) -> np.ndarray:
        return self.labels[self.labels >= 0].copy()

    def stored_vectors(self) -> np.ndarray:
        return self._rows().copy()

    def memory_bytes(self) -> int:
        hnsw = self.index.hnsw
        graph = hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4
        vectors = int(self.index.ntotal) * self.dim * 4
        return vectors + graph + self.labels.nbytes + _int_map_bytes(self.nodes)

    def compact(self) -> None:
        if self.tombstones == 0:
            return
        rows = self._rows()
        alive = self.labels >= 0
        vectors, ids = rows[alive].copy(), self.labels[alive].copy()
        rows[:] = 0.0
        self.index = self._new_index()
        self.labels = np.empty(0, dtype=np.int64)
        self.nodes = {}
        if len(ids):
            self.add(ids, vectors)
        vectors.fill(0.0)


class _IVFStore(_Store):
    """IVF lists with a hash direct map; exact (flat) until there is enough data to train."""

    def __init__(self, dim: int, nlist: int, nprobe: int) -> None:
        self.dim, self.nlist, self.nprobe = dim, nlist, nprobe
        self.flat: _FlatStore | None = _FlatStore(dim)
        self.index: faiss.IndexIVFFlat | None = None
        self.members: set[int] = set()

    @property
    def trained(self) -> bool:
        return self.index is not None

    def __len__(self) -> int:
        return len(self.flat) if self.flat is not None else len(self.members)

    def contains(self, template_id: int) -> bool:
        return self.flat.contains(template_id) if self.flat is not None else template_id in self.members

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self.flat is not None:
            if len(self.flat) + len(ids) < MIN_TRAIN_PER_LIST * self.nlist:
                self.flat.add(ids, vectors)
                return
            vectors = np.vstack([self.flat.stored_vectors(), vectors])
            ids = np.concatenate([self.flat.labels, ids])
            self._train(vectors)
            self.flat.remove(self.flat.labels.copy())  # scrubs the flat rows
            self.flat = None
        self.index.add_with_ids(vectors, ids)
        self.members.update(ids.tolist())

    def _train(self, vectors: np.ndarray) -> None:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 1234
        index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST  # k-means on a sample: fast at 1M
        index.train(vectors)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self.index = index

    def remove(self, ids: np.ndarray) -> int:
        if self.flat is not None:
            return self.flat.remove(ids)
        zeros = np.zeros(self.dim * 4, dtype=np.uint8)
        lists = self.index.invlists
        for template_id in ids.tolist():  # scrub in place; FAISS then swaps the last entry in
            where = self.index.direct_map.get(template_id)
            lists.update_entry(faiss.lo_listno(where), faiss.lo_offset(where), template_id, faiss.swig_ptr(zeros))
        removed = int(self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))))
        self.members.difference_update(ids.tolist())
        return removed

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.flat is not None:
            return self.flat.search(queries, k)
        self.index.nprobe = min(self.nprobe, self.nlist)
        return self.index.search(queries, k)

    def ids(self) -> np.ndarray:
        if self.flat is not None:
            return self.flat.ids()
        return np.fromiter(self.members, dtype=np.int64, count=len(self.members))

    def _lists(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(ids, rows) views of each non-empty inverted list."""
        lists, out = self.index.invlists, []
        for list_no in range(self.nlist):
            size = lists.list_size(list_no)
            if size:
                ids = faiss.rev_swig_ptr(lists.get_ids(list_no), size)
                rows = faiss.rev_swig_ptr(lists.get_codes(list_no), size * self.dim * 4)
                out.append((ids, rows.view(np.float32).reshape(size, self.dim)))
        return out

    def stored_vectors(self) -> np.ndarray:
        if self.flat is not None:
            return self.flat.stored_vectors()
        parts = [rows.copy() for _, rows in self._lists()]
        return np.vstack(parts) if parts else np.empty((0, self.dim), dtype=np.float32)

    def memory_bytes(self) -> int:
        if self.flat is not None:
            return self.flat.memory_bytes()
        entries = int(self.index.ntotal)
        lists = entries * (self.dim * 4 + 8)
        centroids = self.nlist * self.dim * 4
        direct_map = entries * 48  # std::unordered_map node + bucket, roughly
        return lists + centroids + direct_map + _int_map_bytes(self.members)

    def compact(self) -> None:
        """Retrain the centroids on the remaining templates (drops what removed ones contributed)."""
        if self.flat is not None:
            return
        parts = self._lists()
        if not parts:
            self.index, self.flat = None, _FlatStore(self.dim)
            self.members = set()
            return
        ids = np.concatenate([i.copy() for i, _ in parts])
        vectors = np.vstack([rows.copy() for _, rows in parts])
        for _, rows in parts:
            rows[:] = 0.0
        old_centroids = _flat_rows(faiss.downcast_index(self.index.quantizer), self.dim)
        old_centroids[:] = 0.0
        self.index, self.flat, self.members = None, _FlatStore(self.dim), set()
        self.add(ids, vectors)
        vectors.fill(0.0)
