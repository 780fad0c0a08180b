"""Sharded 1:N search on a real local Ray cluster (head + two worker nodes) over a real enrolled SQLite gallery.

The five knn_examples identities are enrolled from their photos with the default backend; three shard
actors rebuild their partitions from the encrypted store. Checked: the merged top-k equals the
single-process exact search, erasure reaches every shard, a killed shard comes back rebuilt from the
store with the same answers, and bad calls get clear errors.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from sightline.errors import ConfigError
from sightline.gallery.gallery import Gallery
from sightline.gallery.index import VectorIndexError
from sightline.store import templates_repo

# Loopback only; Ray reads this once, when it is first imported (ray_constants.ENABLE_RAY_CLUSTER).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray")

from sightline.cluster.compact_index import CompactIVF  # noqa: E402
from sightline.cluster.shards import ShardedIndex, ShardUnavailableError, StoreSpec  # noqa: E402

PEOPLE = ("alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie")
SUBJECT = {"legal_basis": "contract", "purpose": "building access for staff", "retention_days": 30}
SHARDS = 3
K = 4


@pytest.fixture(scope="module")
def ray_cluster():
    """A real Ray cluster on loopback: a head with no CPUs and two worker nodes with one CPU each."""
    from ray.cluster_utils import Cluster

    own = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # short: Ray's socket paths live under it; not shared
    small = {"node_ip_address": "127.0.0.1", "object_store_memory": 80 * 1024 * 1024}
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "include_dashboard": False, "temp_dir": own, **small})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, **small)
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", namespace="sightline-test",
                 log_to_driver=False, logging_level="warning")
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, engine, faces_dir: Path):
    """The five people enrolled (9 photos) in a real SQLite gallery; yields (gallery, subject ids by name)."""
    home = tmp_path_factory.mktemp("sharded")
    gallery = Gallery.open(home, None, engine, actor="test-suite")
    ids = {}
    for person in PEOPLE:
        subject = gallery.create_subject(name=person, **SUBJECT)
        photos = sorted((faces_dir / "examples" / "knn_examples" / "train" / person).iterdir())
        assert all(r.accepted for r in gallery.enroll(str(subject["id"]), photos))
        ids[person] = str(subject["id"])
    yield gallery, ids
    gallery.close()


@pytest.fixture(scope="module")
def probes(engine, faces_dir: Path) -> np.ndarray:
    """Embeddings of every face in the knn test photos (people enrolled and not)."""
    test = faces_dir / "examples" / "knn_examples" / "test"
    faces = [f for photo in sorted(test.iterdir()) for f in engine.detect(photo, embed=True)]
    vectors = np.vstack([f.embedding for f in faces if f.embedding is not None]).astype(np.float32)
    assert len(vectors) >= 5
    return vectors


@pytest.fixture(scope="module")
def sharded(ray_cluster, gallery):
    """Three shards built from the gallery's encrypted store."""
    g, _ = gallery
    spec = store_spec(g)
    # half a CPU each: 3 shards need 1.5 of the two one-CPU workers, so they cannot all land on one node
    index = ShardedIndex(SHARDS, store=spec, timeout_s=20.0, num_cpus=0.5)
    yield index
    index.close()


def store_spec(gallery: Gallery) -> StoreSpec:
    """Where the shards find this gallery's encrypted templates."""
    return StoreSpec(home=str(gallery.home), db_url=gallery.db.url.render_as_string(hide_password=False),
                     embedder=gallery.faces.spec.embedder)


def template_ids(gallery: Gallery, subject_id: str) -> list[int]:
    with gallery.sessions() as session:
        return sorted(templates_repo.subject_template_ids(session, subject_id))


def assert_same_as_single_process(gallery: Gallery, sharded: ShardedIndex, probes: np.ndarray) -> None:
    gallery.refresh()
    want_scores, want_ids = gallery.index.search(probes, K)
    got_scores, got_ids = sharded.search(probes, K)
    assert got_ids.tolist() == want_ids.tolist()
    np.testing.assert_allclose(got_scores, want_scores, rtol=0, atol=1e-5)


def test_sharded_search_matches_single_process_exact_search(gallery, sharded, probes):
    g, _ = gallery
    infos = sharded.info()
    assert [i["shard"] for i in infos] == list(range(SHARDS))
    assert sum(i["size"] for i in infos) == len(g.index) == 9
    assert all(i["size"] > 0 for i in infos)  # 9 templates with consecutive ids: 3 per shard
    assert len({i["node_id"] for i in infos}) >= 2  # SPREAD: shards on several nodes
    sharded.search_stats(reset=True)
    assert_same_as_single_process(g, sharded, probes)
    assert [s["count"] for s in sharded.search_stats()] == [1.0] * SHARDS  # one scatter: one search per shard
    # k larger than the whole gallery: every template once, then empty slots
    scores, ids = sharded.search(probes[:1], 12)
    assert sorted(ids[0, :9].tolist()) == sorted(g.index.ids().tolist())
    assert ids[0, 9:].tolist() == [-1, -1, -1] and np.isneginf(scores[0, 9:]).all()


def test_erasure_reaches_every_shard(tmp_path, ray_cluster, engine, faces_dir, probes):
    """Erasure reaches every shard: by removing the subject's ids, by refresh() from the store, and on rebuild."""
    g = Gallery.open(tmp_path / "home", None, engine, actor="test-suite")
    try:
        ids = {}
        for person in ("obama", "biden", "kit_harington"):
            subject = g.create_subject(name=person, **SUBJECT)
            photos = sorted((faces_dir / "examples" / "knn_examples" / "train" / person).iterdir())
            assert all(r.accepted for r in g.enroll(str(subject["id"]), photos))
            ids[person] = str(subject["id"])
        spec = store_spec(g)
        with ShardedIndex(2, store=spec, timeout_s=20.0) as index:
            gone = template_ids(g, ids["obama"])
            _, before = index.search(probes, 6)
            assert set(gone) <= set(before.ravel().tolist())
            g.erase(ids["obama"])
            assert index.remove(gone) == len(gone)
            _, after = index.search(probes, 6)
            assert not set(gone) & set(after.ravel().tolist())
            assert index.size() == 6 - len(gone)  # obama, biden and kit: two photos each
            assert index.remove(gone) == 0  # already erased
            # erased and enrolled by "another process": refresh reconciles every shard with the store
            biden = template_ids(g, ids["biden"])
            g.erase(ids["biden"])
            rose = g.create_subject(name="rose_leslie", **SUBJECT)
            photos = sorted((faces_dir / "examples" / "knn_examples" / "train" / "rose_leslie").iterdir())
            assert all(r.accepted for r in g.enroll(str(rose["id"]), photos))
            new = template_ids(g, str(rose["id"]))
            assert index.refresh() == (len(new), len(biden))
            _, after = index.search(probes, 6)
            assert not set(biden) & set(after.ravel().tolist()) and set(new) <= set(after.ravel().tolist())
            assert index.refresh() == (0, 0)
        with ShardedIndex(2, store=spec, timeout_s=20.0) as rebuilt:  # shards (re)built after the erasure
            assert rebuilt.size() == 6 - len(gone) - len(biden) + len(new)
            _, found = rebuilt.search(probes, 6)
            assert not (set(gone) | set(biden)) & set(found.ravel().tolist())
    finally:
        g.close()


def test_adds_and_searches_larger_than_one_call_are_batched(ray_cluster):
    """More rows than one call carries inline (16 of 1024 values): split into batches, answered in order."""
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((100, 1024)).astype(np.float32)
    with ShardedIndex(2, dim=1024, timeout_s=20.0) as index:
        assert index.add(np.arange(100), vectors) == 100 and index.size() == 100
        assert [i["size"] for i in index.info()] == [50, 50]
        scores, found = index.search(vectors, 2)
        assert found[:, 0].tolist() == list(range(100))
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
        assert index.search(vectors[:0], 2)[1].shape == (0, 2)


def test_killed_shard_is_rebuilt_from_the_encrypted_store(gallery, sharded, probes):
    g, _ = gallery
    before = sharded.search(probes, K)
    victim = sharded.actors[1]
    old = sharded.info()[1]
    ray.kill(victim, no_restart=False)
    deadline = time.monotonic() + 60.0
    while (infos := sharded.wait_ready(timeout_s=60.0))[1]["pid"] == old["pid"]:  # the kill is asynchronous
        assert time.monotonic() < deadline, "the killed shard was not restarted"
        time.sleep(0.1)
    assert infos[1]["restarted"] is True
    assert infos[1]["size"] == old["size"] > 0  # rebuilt from the store, not left empty
    after = sharded.search(probes, K)
    assert after[1].tolist() == before[1].tolist()
    np.testing.assert_allclose(after[0], before[0], atol=1e-6)
    assert_same_as_single_process(g, sharded, probes)


def test_late_or_dead_shard_is_a_clear_error(ray_cluster, gallery, probes):
    g, _ = gallery
    with ShardedIndex(2, store=store_spec(g), timeout_s=20.0) as index:
        index.timeout_s = 1e-6  # no shard can answer in a microsecond: the call times out
        # Ray's timer is coarser than that, so a shard may still make it: the late ones are named
        with pytest.raises(ShardUnavailableError, match=r"shard\(s\) \[(0, 1|0|1)\] of 2 did not answer") as err:
            index.search(probes, K)
        assert err.value.code == "shard_unavailable"
        index.timeout_s = 20.0
        ray.kill(index.actors[0], no_restart=True)
        with pytest.raises(ShardUnavailableError, match="died"):
            index.search(probes, K)


def test_bad_calls_get_clear_errors(sharded, probes):
    for k in (0, -1, 2.5, True):
        with pytest.raises(VectorIndexError, match="k must be"):
            sharded.search(probes, k)
    with pytest.raises(VectorIndexError, match=r"shape \(n, 384\)"):
        sharded.search(np.ones((1, 128), dtype=np.float32), K)
    with pytest.raises(VectorIndexError, match="NaN"):
        sharded.search(np.full((1, 384), np.nan, dtype=np.float32), K)
    with pytest.raises(VectorIndexError, match="ids"):
        sharded.add([1, 2], np.ones((3, 384), dtype=np.float32))
    with pytest.raises(ConfigError, match="shards"):
        ShardedIndex(0)
    with pytest.raises(ConfigError, match="index kind"):
        ShardedIndex(2, kind="annoy")


def _list_rows(index, list_no: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, codes) of the first ``rows`` slots of an inverted list, read in place (may run past its size)."""
    import faiss

    lists = index.invlists
    ids = faiss.rev_swig_ptr(lists.get_ids(list_no), rows).copy()
    codes = faiss.rev_swig_ptr(lists.get_codes(list_no), rows * index.code_size).copy()
    return ids, codes.reshape(rows, index.code_size)


def test_compact_ivf_finds_near_copies_and_erases_codes():
    """The trained ivf-sq8 index finds near copies like exact search, and an erased code is nowhere in its list."""
    from sightline.cluster.shard_actor import IndexShard

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((4000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(0, 8000, 2, dtype=np.int64)  # shard 0 of 2 owns the even ids
    shard = IndexShard(0, 2, kind="ivf-sq8", params={"nlist": 16, "nprobe": 16})
    shard.add(ids, vectors)
    compact = shard._index
    assert isinstance(compact, CompactIVF) and compact.trained
    probes = vectors[:50] + 0.02 * rng.standard_normal((50, 64)).astype(np.float32)
    _, found = shard.search(probes, 1)
    assert found[:, 0].tolist() == ids[:50].tolist()
    with pytest.raises(VectorIndexError, match="another shard"):
        shard.add(np.array([1]), vectors[:1])

    index = compact._index
    list_no = int(np.argmax([index.invlists.list_size(n) for n in range(16)]))
    size = index.invlists.list_size(list_no)
    list_ids, codes = _list_rows(index, list_no, size)
    victims = [int(list_ids[size // 2]), int(list_ids[-1])]  # one from the middle, the list's last entry
    erased = codes[[size // 2, size - 1]]
    assert shard.remove(victims) == 2 and shard.size() == 3998
    assert compact.ids().tolist() == sorted(set(ids.tolist()) - set(victims))
    _, after = _list_rows(index, list_no, size)  # the two vacated tail slots included
    for code in erased:
        assert not (after == code).all(axis=1).any()
    _, found = shard.search(vectors[[ids.tolist().index(v) for v in victims]], 3)
    assert not set(found.ravel().tolist()) & set(victims)


def test_shard_that_cannot_decrypt_the_store_fails_clearly(ray_cluster, gallery, tmp_path):
    """A shard whose data home has no key cannot rebuild: a clear error at start, and no actor left behind."""
    g, _ = gallery
    spec = StoreSpec(home=str(tmp_path), db_url=g.db.url.render_as_string(hide_password=False),
                     embedder=g.faces.spec.embedder)
    before = len([a for a in ray.util.list_named_actors(all_namespaces=True)])
    with pytest.raises(ConfigError, match="failed to start.*no encryption key"):
        ShardedIndex(2, store=spec, timeout_s=20.0, name="keyless")
    assert len(ray.util.list_named_actors(all_namespaces=True)) == before


class _Seeded:
    """A bulk source: 300 seeded unit vectors per shard, in chunks of 70 (ids shard, shard + shards, ...)."""

    def __call__(self, shard: int, shards: int):
        ids = shard + shards * np.arange(300, dtype=np.int64)
        rows = np.random.default_rng([5, shard]).standard_normal((300, 32)).astype(np.float32)
        for lo in range(0, 300, 70):
            yield ids[lo:lo + 70], rows[lo:lo + 70]


def test_bulk_load_and_exact_scan_inside_a_shard():
    """load() fills a shard from a source; exact_scan() gives the brute-force top-k (ties by id) of that source."""
    from sightline.cluster.shard_actor import IndexShard

    source = _Seeded()
    shard = IndexShard(1, 3, kind="ivf-sq8", params={"nlist": 4, "nprobe": 4})
    assert shard.load(source)["size"] == 300
    ids = np.concatenate([i for i, _ in source(1, 3)])
    rows = np.vstack([r for _, r in source(1, 3)])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    queries = np.random.default_rng(9).standard_normal((130, 32)).astype(np.float32)  # > one 64-query block
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores, found = shard.exact_scan(source, queries, 5)
    want = np.argsort(-(queries @ rows.T), axis=1, kind="stable")[:, :5]
    assert found.tolist() == ids[want].tolist()
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ rows.T, want, axis=1), atol=1e-5)
    with pytest.raises(ConfigError, match="empty shard"):
        shard.load(source)
    with pytest.raises(VectorIndexError, match="another shard"):
        IndexShard(0, 3).load(lambda shard, shards: source(1, shards))  # shard 1's templates offered to shard 0


def test_the_gallery_identifies_through_shards_and_erasure_reaches_them(tmp_path, ray_cluster, engine, faces_dir):
    """``serve --index sharded``: the gallery's own identify, enrolment and erasure with its vectors in shards."""
    from sightline.cluster.gallery_index import ShardedGalleryIndex, sharded_index_factory

    home = tmp_path / "home"
    train = faces_dir / "examples" / "knn_examples" / "train"
    with Gallery.open(home, None, engine, actor="test-suite") as plain:  # enrolled before the shards exist
        obama = str(plain.create_subject(name="Barack Obama", **SUBJECT)["id"])
        assert all(r.accepted for r in plain.enroll(obama, sorted((train / "obama").iterdir())))
    spec = StoreSpec(home=str(home), embedder=engine.spec.embedder)
    g = Gallery.open(home, None, engine, actor="test-suite",
                     index_factory=sharded_index_factory(ray_cluster.address, spec, shards=2))
    try:
        probe = faces_dir / "examples" / "obama.jpg"
        assert g.identify(probe)[0].decision == obama
        index = g.search.index
        assert isinstance(index, ShardedGalleryIndex) and len(index) == len(template_ids(g, obama))
        biden = str(g.create_subject(name="Joe Biden", **SUBJECT)["id"])  # enrolled through the shards
        assert all(r.accepted for r in g.enroll(biden, sorted((train / "biden").iterdir())))
        assert g.identify(faces_dir / "examples" / "biden.jpg")[0].decision == biden
        gone = template_ids(g, obama)
        g.erase(obama)
        assert g.identify(probe)[0].match is None
        _, held = index.sharded.search(np.eye(1, index.sharded.dim, dtype=np.float32), 10)
        assert not set(gone) & set(held.ravel().tolist()) and len(index) == len(template_ids(g, biden))
    finally:
        g.search.index.close()
        g.close()
