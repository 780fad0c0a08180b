"""The gallery's search index in shard actors: ``sightline serve --cluster ADDRESS --index sharded``.

:class:`ShardedGalleryIndex` gives a :class:`~sightline.cluster.shards.ShardedIndex` the part of
:class:`~sightline.gallery.index.VectorIndex` that :class:`~sightline.gallery.search.SearchIndex` uses, so the
gallery's matching rules, change feed and erasure work unchanged: the server keeps names, thresholds and the
template-to-subject map, and the vectors live only in the shards. Each shard is built from the encrypted store
and rebuilds itself from it when Ray restarts it; adds the server sends for templates a shard already loaded are
skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from sightline.cluster.runtime import connect
from sightline.cluster.shard_actor import StoreSpec
from sightline.cluster.shards import ShardedIndex
from sightline.errors import ConfigError

DEFAULT_SHARDS = 4


class ShardedGalleryIndex:
    """A sharded index with VectorIndex's add / remove / search / len."""

    def __init__(self, sharded: ShardedIndex) -> None:
        self.sharded = sharded

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.sharded.add(ids, vectors, skip_present=True)

    def remove(self, ids: np.ndarray) -> int:
        return self.sharded.remove(ids)

    def search(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        return self.sharded.search(queries, k)

    def __len__(self) -> int:
        return self.sharded.size()

    def close(self) -> None:
        self.sharded.close()


def shard_count() -> int:
    """Shards of a sharded gallery index (``$SIGHTLINE_INDEX_SHARDS``, default 4)."""
    raw = os.environ.get("SIGHTLINE_INDEX_SHARDS") or str(DEFAULT_SHARDS)
    if not raw.isdigit() or not 1 <= int(raw) <= 1024:
        raise ConfigError(f"SIGHTLINE_INDEX_SHARDS must be a whole number from 1 to 1024, not {raw!r}")
    return int(raw)


def sharded_index_factory(address: str, store: StoreSpec, *, shards: int | None = None,
                          kind: str = "exact") -> Callable[[int], ShardedGalleryIndex]:
    """``SearchIndex``'s index factory: the first use joins the cluster and starts the shard actors."""
    count = shard_count() if shards is None else shards

    def make(dim: int) -> ShardedGalleryIndex:
        connect(address)
        return ShardedGalleryIndex(ShardedIndex(count, kind=kind, dim=dim, store=store))

    return make

