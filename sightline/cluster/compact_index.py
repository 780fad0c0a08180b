"""A compact IVF index for very large shards: inverted lists of 8-bit scalar-quantised templates.

``IndexIVFScalarQuantizer`` (inner product on L2-normalised vectors) stores one byte per dimension,
a quarter of a flat float32 index, so 10 M templates of 384 values fit in about 4 GB. Until the
shard holds ``39 * nlist`` templates (enough to train the coarse centroids) it is an exact scan
of a float32 buffer. Scores are cosine similarities up to the quantiser's error (about 1e-3).

Removal is erasure, as in :class:`sightline.gallery.index.VectorIndex`: a removed template's code
is overwritten with zeros in its inverted list before FAISS swaps the list's last entry into the
slot, and removed rows of the untrained buffer are zeroed. Buffers the allocator already released
while lists grew are not reachable through the index and are not zeroed; the trained centroids
and quantiser ranges remain as derived statistics over at least 39 templates each.
"""

from __future__ import annotations

import faiss
import numpy as np

from sightline.errors import ConfigError
from sightline.gallery.index import MIN_TRAIN_PER_LIST, VectorIndexError

DEFAULT_PARAMS = {"nlist": 1024, "nprobe": 32}
TRAIN_POINTS_PER_LIST = 64  # k-means sample per centroid
TRAIN_ITERATIONS = 10


class CompactIVF:
    """IVF + SQ8 template index keyed by int64 ids (not thread-safe: one Ray actor calls it at a time)."""

    kind = "ivf-sq8"

    def __init__(self, dim: int, *, nlist: int = DEFAULT_PARAMS["nlist"],
                 nprobe: int = DEFAULT_PARAMS["nprobe"]) -> None:
        for name, value in (("dim", dim), ("nlist", nlist), ("nprobe", nprobe)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"ivf-sq8 {name} must be a whole number >= 1, got {value!r}")
        self.dim, self.params = int(dim), {"nlist": int(nlist), "nprobe": int(nprobe)}
        self._index: faiss.IndexIVFScalarQuantizer | None = None
        self._buffer = np.empty((0, self.dim), dtype=np.float32)  # exact rows until trained
        self._buffer_ids = np.empty(0, dtype=np.int64)

    @property
    def trained(self) -> bool:
        return self._index is not None

    def __len__(self) -> int:
        return int(self._index.ntotal) if self._index is not None else len(self._buffer_ids)

    def __contains__(self, template_id: object) -> bool:
        if isinstance(template_id, bool) or not isinstance(template_id, int | np.integer):
            return False
        if self._index is None:
            return bool(np.any(self._buffer_ids == int(template_id)))
        try:
            self._index.direct_map.get(int(template_id))
        except RuntimeError:  # FAISS: "key not found"
            return False
        return True

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit-length float32 rows (validated and normalised by the caller) under new ids."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) != len(vectors):
            raise VectorIndexError(f"got {len(ids)} ids for {len(vectors)} vectors")
        if self._index is None:
            if len(self._buffer_ids) + len(ids) < MIN_TRAIN_PER_LIST * self.params["nlist"]:
                self._grow_buffer(ids, vectors)
                return
            ids = np.concatenate([self._buffer_ids, ids])
            vectors = np.vstack([self._buffer, vectors])
            self._train(vectors)
            self._buffer.fill(0.0)
            self._buffer, self._buffer_ids = np.empty((0, self.dim), dtype=np.float32), np.empty(0, dtype=np.int64)
            self._index.add_with_ids(vectors, ids)
            vectors.fill(0.0)  # our stacked copy
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def _grow_buffer(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        old = self._buffer
        self._buffer = np.vstack([old, vectors]).astype(np.float32, copy=False)
        self._buffer_ids = np.concatenate([self._buffer_ids, ids])
        old.fill(0.0)

    def _train(self, vectors: np.ndarray) -> None:
        nlist = self.params["nlist"]
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                              faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 1234
        index.cp.niter = TRAIN_ITERATIONS
        index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
        sample = vectors
        if len(vectors) > TRAIN_POINTS_PER_LIST * nlist:
            rows = np.random.default_rng(1234).choice(len(vectors), TRAIN_POINTS_PER_LIST * nlist, replace=False)
            sample = vectors[np.sort(rows)]
        index.train(sample)
        if sample is not vectors:
            sample.fill(0.0)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = min(self.params["nprobe"], nlist)
        self._index = index

    def remove(self, ids: np.ndarray) -> int:
        """Erase these ids (unknown ones are ignored); returns how many were present."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if self._index is None:
            gone = np.isin(self._buffer_ids, ids)
            if not gone.any():
                return 0
            old = self._buffer
            self._buffer, self._buffer_ids = old[~gone], self._buffer_ids[~gone]
            old.fill(0.0)
            return int(gone.sum())
        present = np.array([i for i in ids.tolist() if i in self], dtype=np.int64)
        if not len(present):
            return 0
        zeros = np.zeros(self._index.code_size, dtype=np.uint8)
        lists = self._index.invlists
        for template_id in present.tolist():  # scrub the code in place; FAISS then swaps the last entry in
            where = self._index.direct_map.get(template_id)
            lists.update_entry(faiss.lo_listno(where), faiss.lo_offset(where), template_id, faiss.swig_ptr(zeros))
        return int(self._index.remove_ids(faiss.IDSelectorArray(len(present), faiss.swig_ptr(present))))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per unit-length query row; empty slots are (-inf, -1)."""
        n = len(queries)
        if len(self) == 0:
            return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)
        if self._index is not None:
            scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        else:
            scores, ids = exact_top_k(queries, self._buffer, self._buffer_ids, k)
        scores = scores.astype(np.float32, copy=False)
        scores[ids < 0] = -np.inf
        return scores, ids

    def set_search_params(self, *, nprobe: int) -> None:
        """Lists scanned per query (more: slower, higher recall)."""
        if isinstance(nprobe, bool) or not isinstance(nprobe, int | np.integer) or nprobe < 1:
            raise ConfigError(f"nprobe must be a whole number >= 1, got {nprobe!r}")
        self.params["nprobe"] = int(nprobe)
        if self._index is not None:
            self._index.nprobe = min(int(nprobe), self.params["nlist"])

    def ids(self) -> np.ndarray:
        """Every template id held, ascending."""
        if self._index is None:
            return np.sort(self._buffer_ids)
        lists = self._index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
                 for n in range(self.params["nlist"]) if lists.list_size(n)]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def memory_bytes(self) -> int:
        """Approximate bytes held: codes, ids, centroids and the id hash map (or the untrained buffer)."""
        if self._index is None:
            return int(self._buffer.nbytes + self._buffer_ids.nbytes)
        entries = int(self._index.ntotal)
        lists = entries * (int(self._index.code_size) + 8)
        centroids = self.params["nlist"] * self.dim * 4
        return lists + centroids + entries * 48  # std::unordered_map node + bucket, roughly


def exact_top_k(queries: np.ndarray, rows: np.ndarray, ids: np.ndarray, k: int,
                block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-``k`` of ``queries`` over ``rows`` (ties by smaller id); pads with (-inf, -1).

    Queries go ``block`` at a time, so the similarity matrix in memory stays ``block x len(rows)``.
    """
    n = len(queries)
    out_scores = np.full((n, k), -np.inf, dtype=np.float32)
    out_ids = np.full((n, k), -1, dtype=np.int64)
    if len(rows) == 0 or n == 0:
        return out_scores, out_ids
    take = min(k, len(rows))
    for lo in range(0, n, block):
        sims = np.asarray(queries[lo:lo + block], dtype=np.float32) @ rows.T
        part = np.argpartition(-sims, take - 1, axis=1)[:, :take] if take < len(rows) \
            else np.broadcast_to(np.arange(len(rows)), sims.shape)
        cand_scores, cand_ids = np.take_along_axis(sims, part, axis=1), ids[part]
        order = np.lexsort((cand_ids, -cand_scores), axis=-1)
        out_scores[lo:lo + block, :take] = np.take_along_axis(cand_scores, order, axis=1)
        out_ids[lo:lo + block, :take] = np.take_along_axis(cand_ids, order, axis=1)
    return out_scores, out_ids
