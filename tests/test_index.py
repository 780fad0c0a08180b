"""VectorIndex: exact correctness, ANN recall, erasure on removal, bad input, threads, real faces."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest

from sightline.errors import ConfigError, SightlineError
from sightline.gallery.index import VectorIndex, VectorIndexError, set_threads

KINDS = ["exact", "hnsw", "ivf"]
SMALL_IVF = {"nlist": 16, "nprobe": 16}  # trains at 16 * 39 = 624 templates; nprobe=nlist: exhaustive


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def jitter(rng: np.random.Generator, x: np.ndarray, sigma: float) -> np.ndarray:
    y = x + sigma * rng.standard_normal(x.shape).astype(np.float32)
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def make(kind: str, dim: int, **params) -> VectorIndex:
    if kind == "ivf":
        params = {**SMALL_IVF, **params}
    return VectorIndex(dim, kind, **params)


def closest_stored(index: VectorIndex, vector: np.ndarray) -> float:
    """Highest cosine between ``vector`` and any row the index holds (0 when it holds none)."""
    rows = index.stored_vectors()
    return float((rows @ vector).max()) if len(rows) else 0.0


# --- exact search ------------------------------------------------------------------------------


def test_exact_search_matches_numpy_brute_force():
    rng = np.random.default_rng(1)
    base, queries = unit(rng, 3000, 64), unit(rng, 40, 64)
    ids = rng.choice(10**9, size=len(base), replace=False).astype(np.int64)
    index = VectorIndex(64)
    index.add(ids, base)
    scores, found = index.search(queries, k=10)
    truth = queries @ base.T
    order = np.argsort(-truth, axis=1)[:, :10]
    assert found.shape == scores.shape == (40, 10)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(found, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(truth, order, 1), atol=1e-5)


def test_scores_are_cosines_whatever_the_input_scale():
    rng = np.random.default_rng(2)
    base = unit(rng, 50, 32)
    index = VectorIndex(32)
    index.add(list(range(50)), base.astype(np.float64) * 7.5)  # float64, not unit length
    scores, found = index.search(base[3] * 0.01, k=2)  # a 1-D query is one row
    assert found[0, 0] == 3
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert scores[0, 1] < scores[0, 0]


def test_empty_slots_are_minus_one():
    rng = np.random.default_rng(3)
    index = VectorIndex(8)
    scores, found = index.search(unit(rng, 2, 8), k=3)
    assert (found == -1).all() and np.isneginf(scores).all()
    index.add([5, 6], unit(rng, 2, 8))
    scores, found = index.search(unit(rng, 1, 8), k=4)
    assert sorted(found[0, :2].tolist()) == [5, 6]
    assert (found[0, 2:] == -1).all() and np.isneginf(scores[0, 2:]).all()


# --- approximate search --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ann_data():
    """20k templates: 10k random unit vectors and 10k in 500 tight 'identity' clusters, plus queries.

    The first 400 queries are noisy copies of stored templates (enrolled people), the last 100 are
    fresh random vectors (strangers: their best match is arbitrary and far below any threshold).
    """
    rng = np.random.default_rng(4)
    dim = 128
    centres = unit(rng, 500, dim)
    clustered = jitter(rng, np.repeat(centres, 20, axis=0), 0.06)  # ~0.8 cosine to its centre
    base = np.vstack([unit(rng, 10_000, dim), clustered])
    ids = np.arange(len(base), dtype=np.int64) * 3 + 11
    picks = rng.choice(len(base), 400, replace=False)
    queries = np.vstack([jitter(rng, base[picks], 0.04), unit(rng, 100, dim)])
    exact = VectorIndex(dim)
    exact.add(ids, base)
    truth_scores, truth = exact.search(queries, k=1)
    return base, ids, queries, truth[:, 0], truth_scores[:, 0]


@pytest.mark.parametrize(("kind", "params"), [("hnsw", {}), ("ivf", {"nlist": 128, "nprobe": 16})])
def test_ann_recall_at_1_against_exact(ann_data, kind, params):
    base, ids, queries, truth, truth_scores = ann_data
    index = VectorIndex(base.shape[1], kind, **params)
    index.add(ids, base)
    if kind == "ivf":
        assert index._store.trained
    scores, found = index.search(queries, k=1)
    recall = float((found[:400, 0] == truth[:400]).mean())
    assert recall >= 0.95, f"{kind} recall@1 {recall:.3f} on enrolled probes"
    gaps = truth_scores[400:] - scores[400:, 0]  # strangers: ANN finds a near-best, never a better, score
    assert gaps.min() >= -1e-5 and np.median(gaps) < 0.02 and gaps.max() < 0.2
    assert truth_scores[400:].max() < 0.5  # ... and every one of them is a clear non-match


def test_search_params_change_without_rebuilding(ann_data):
    base, ids, queries, truth, _ = ann_data
    index = VectorIndex(base.shape[1], "ivf", nlist=128, nprobe=1)
    index.add(ids[:10_000], base[:10_000])  # the random half: one probed list misses a lot
    reference = VectorIndex(base.shape[1])
    reference.add(ids[:10_000], base[:10_000])
    _, want = reference.search(queries[:200], 1)
    narrow = (index.search(queries[:200], 1)[1] == want).mean()
    index.set_search_params(nprobe=128)  # every list: exact
    assert (index.search(queries[:200], 1)[1] == want).all() and narrow < 1.0
    assert index.params["nprobe"] == 128
    with pytest.raises(ConfigError, match="no search parameter"):
        index.set_search_params(ef_search=10)
    with pytest.raises(ConfigError, match="nprobe must be"):
        index.set_search_params(nprobe=0)
    hnsw = VectorIndex(8, "hnsw")
    hnsw.set_search_params(ef_search=200)
    assert hnsw._store.ef_search == 200


def test_ivf_is_exact_until_it_has_enough_to_train():
    rng = np.random.default_rng(5)
    base = unit(rng, 1000, 16)
    index = VectorIndex(16, "ivf", nlist=16, nprobe=1)
    index.add(np.arange(600), base[:600])  # 600 < 16 * 39
    assert not index._store.trained
    reference = VectorIndex(16)
    reference.add(np.arange(600), base[:600])
    queries = unit(rng, 30, 16)
    np.testing.assert_array_equal(index.search(queries, 5)[1], reference.search(queries, 5)[1])
    index.add(np.arange(600, 1000), base[600:])
    assert index._store.trained and len(index) == 1000
    assert set(index.ids().tolist()) == set(range(1000))
    assert index.search(base[700], 1)[1][0, 0] == 700


# --- removal is erasure --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_remove_leaves_no_trace(kind):
    rng = np.random.default_rng(6)
    base = unit(rng, 2000, 48)
    ids = np.arange(2000, dtype=np.int64) + 100
    index = make(kind, 48)
    index.add(ids, base)
    doomed = ids[::10]
    assert index.remove(np.concatenate([doomed, doomed[:3], [999_999]])) == len(doomed)
    assert len(index) == 2000 - len(doomed)
    assert index.remove(doomed) == 0
    _, found = index.search(base[::10], k=20)
    assert not np.isin(found, doomed).any()
    for template_id, vector in zip(doomed[:50], base[::10][:50], strict=True):
        assert template_id not in index
        assert closest_stored(index, vector) < 0.999, f"{kind} still holds template {template_id}"
    survivors = np.setdiff1d(ids, doomed)
    np.testing.assert_array_equal(index.ids(), survivors)
    _, own = index.search(base[survivors[:200] - 100], k=1)
    assert (own[:, 0] == survivors[:200]).mean() >= 0.97
    index.add(doomed[:5], base[::10][:5])  # ids can be reused after removal
    assert index.search(base[0], 1)[1][0, 0] == 100


def test_exact_remove_scrubs_faiss_storage():
    rng = np.random.default_rng(7)
    base = unit(rng, 300, 16)
    index = VectorIndex(16)
    index.add(np.arange(300), base)
    flat = index._store.index
    buffer = flat.get_xb()  # FAISS shrinks in place: the old rows stay allocated past the new end
    index.remove([299, 5, 150])  # the last row, and two holes filled from the tail
    assert flat.ntotal == 297 and int(flat.get_xb()) == int(buffer)
    whole_buffer = faiss.rev_swig_ptr(buffer, 300 * 16).reshape(300, 16)
    for row in (299, 5, 150):
        assert float((whole_buffer @ base[row]).max()) < 0.999
        assert float((flat.reconstruct_n(0, flat.ntotal) @ base[row]).max()) < 0.999
    assert index.search(base[298], 1)[1][0, 0] == 298  # a moved row still maps to its id


def test_ivf_remove_scrubs_list_buffers():
    rng = np.random.default_rng(16)
    base = unit(rng, 1000, 16)
    index = VectorIndex(16, "ivf", nlist=16, nprobe=16)
    index.add(np.arange(1000), base)
    ivf = index._store.index
    lists = ivf.invlists
    before = {n: (lists.get_codes(n), lists.list_size(n)) for n in range(16)}
    last_in_list = [int(faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n))[-1]) for n in range(16)]
    doomed = sorted(set(last_in_list[:8]) | {1, 2, 3, 500})
    assert index.remove(doomed) == len(doomed)
    for codes, size in before.values():
        whole_list = faiss.rev_swig_ptr(codes, size * 16 * 4).view(np.float32).reshape(size, 16)
        for template_id in doomed:
            assert float((whole_list @ base[template_id]).max()) < 0.999
    with pytest.raises(RuntimeError):
        ivf.reconstruct(doomed[0])


def test_hnsw_remove_unlinks_nodes_and_keeps_recall():
    rng = np.random.default_rng(8)
    base = unit(rng, 5000, 32)
    index = VectorIndex(32, "hnsw", M=16, compact_ratio=1.0)  # no auto-compaction: exercise the unlinking
    index.add(np.arange(5000), base)
    store = index._store
    entry = int(store.index.hnsw.entry_point)
    doomed = np.unique(np.concatenate([rng.choice(5000, 500, replace=False), [entry]]))
    index.remove(doomed)
    hnsw = store.index.hnsw
    links = faiss.vector_to_array(hnsw.neighbors)
    assert not np.isin(links, doomed).any(), "a live node still links to a removed one"
    offsets = faiss.vector_to_array(hnsw.offsets)
    assert all((links[offsets[n]:offsets[n + 1]] == -1).all() for n in doomed)
    assert hnsw.entry_point not in set(doomed.tolist())
    raw = store.index.storage.reconstruct_n(0, store.index.ntotal)
    assert np.abs(raw[doomed]).max() == 0.0
    survivors = np.setdiff1d(np.arange(5000), doomed)
    reference = VectorIndex(32)
    reference.add(survivors, base[survivors])
    queries = jitter(rng, base[survivors[:300]], 0.05)
    _, truth = reference.search(queries, 1)
    _, found = index.search(queries, 1)
    assert (found[:, 0] == truth[:, 0]).mean() >= 0.95
    index.compact()
    assert store.tombstones == 0 and store.index.ntotal == len(survivors)
    assert (index.search(queries, 1)[1][:, 0] == truth[:, 0]).mean() >= 0.95


def test_hnsw_compacts_itself_past_the_ratio():
    rng = np.random.default_rng(9)
    index = VectorIndex(16, "hnsw", compact_ratio=0.2)
    index.add(np.arange(1000), unit(rng, 1000, 16))
    index.remove(np.arange(150))
    assert index._store.tombstones == 150
    index.remove(np.arange(150, 250))
    assert index._store.tombstones == 0 and index._store.index.ntotal == 750


@pytest.mark.parametrize("kind", KINDS)
def test_remove_everything_then_reuse(kind):
    rng = np.random.default_rng(10)
    base = unit(rng, 700, 16)
    index = make(kind, 16)
    index.add(np.arange(700), base)
    assert index.remove(np.arange(700)) == 700
    assert len(index) == 0 and index.ids().size == 0
    assert not np.any(index.stored_vectors())
    assert (index.search(base[:2], 3)[1] == -1).all()
    index.add([1], base[1])
    assert index.search(base[1], 1)[1][0, 0] == 1


def test_ivf_compact_retrains_on_what_is_left():
    rng = np.random.default_rng(11)
    base = unit(rng, 1500, 16)
    index = VectorIndex(16, "ivf", nlist=16, nprobe=4)
    index.add(np.arange(1500), base)
    index.remove(np.arange(0, 1500, 2))
    old_quantizer = index._store.index.quantizer
    index.compact()
    assert index._store.index.quantizer is not old_quantizer
    assert len(index) == 750 and index.search(base[1], 1)[1][0, 0] == 1
    assert closest_stored(index, base[0]) < 0.999


# --- duplicates and bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_ids_are_refused_and_change_nothing(kind):
    rng = np.random.default_rng(12)
    index = make(kind, 8)
    index.add([1, 2, 3], unit(rng, 3, 8))
    with pytest.raises(VectorIndexError, match="duplicate"):
        index.add([7, 7], unit(rng, 2, 8))
    with pytest.raises(VectorIndexError, match="already in the index"):
        index.add([4, 2], unit(rng, 2, 8))
    assert len(index) == 3 and 4 not in index and 7 not in index


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        ([1], np.ones((1, 7), np.float32), r"shape \(n, 8\)"),
        ([1], np.ones((1, 8, 1), np.float32), r"shape \(n, 8\)"),
        ([1], np.full((1, 8), np.nan, np.float32), "NaN"),
        ([1], np.full((1, 8), np.inf, np.float32), "NaN or infinite"),
        ([1], np.ones((1, 8), np.int32), "floating point"),
        ([1], np.zeros((1, 8), np.float32), "all-zero"),
        ([1], [["a"] * 8], "floating point"),
        ([1.5], np.ones((1, 8), np.float32), "integers"),
        (["x"], np.ones((1, 8), np.float32), "integers"),
        ([-1], np.ones((1, 8), np.float32), "between 0"),
        ([1, 2], np.ones((1, 8), np.float32), "2 ids for 1 vectors"),
        ([[1]], np.ones((1, 8), np.float32), "1-D"),
    ],
)
def test_bad_add_input(ids, vectors, message):
    index = VectorIndex(8)
    with pytest.raises(VectorIndexError, match=message) as caught:
        index.add(ids, vectors)
    assert isinstance(caught.value, SightlineError) and caught.value.code == "bad_vector_input"
    assert len(index) == 0


@pytest.mark.parametrize("k", [0, -3, 1.5, True, "5"])
def test_bad_k(k):
    index = VectorIndex(4)
    index.add([1], np.ones((1, 4), np.float32))
    with pytest.raises(VectorIndexError, match="k must be"):
        index.search(np.ones(4, np.float32), k=k)


def test_bad_queries():
    index = VectorIndex(4)
    with pytest.raises(VectorIndexError, match="shape"):
        index.search(np.ones(5, np.float32))
    with pytest.raises(VectorIndexError, match="NaN"):
        index.search(np.array([1, np.nan, 0, 0], np.float32))


@pytest.mark.parametrize(
    ("args", "params", "message"),
    [
        ((0,), {}, "dimension"),
        ((8, "lsh"), {}, "unknown index kind"),
        ((8, "exact"), {"M": 16}, "unknown parameter"),
        ((8, "hnsw"), {"M": 0}, "M must be"),
        ((8, "hnsw"), {"compact_ratio": 0}, "compact_ratio"),
        ((8, "ivf"), {"nlist": 2.5}, "nlist must be"),
        ((8, "exact"), {"threads": 0}, "threads"),
    ],
)
def test_bad_configuration(args, params, message):
    with pytest.raises(ConfigError, match=message):
        VectorIndex(*args, **params)


def test_thread_setting(monkeypatch):
    assert set_threads(1) == 1 and faiss.omp_get_max_threads() == 1
    monkeypatch.setenv("SIGHTLINE_INDEX_THREADS", "lots")
    with pytest.raises(ConfigError, match="SIGHTLINE_INDEX_THREADS"):
        set_threads()
    monkeypatch.setenv("SIGHTLINE_INDEX_THREADS", "2")
    assert set_threads() == 2 and faiss.omp_get_max_threads() == 2


def test_contains_and_memory():
    rng = np.random.default_rng(13)
    index = VectorIndex(32)
    index.add(np.array([10, 20], dtype=np.uint32), unit(rng, 2, 32))
    assert 10 in index and np.int64(20) in index and 30 not in index and "10" not in index
    assert index.memory_bytes() >= 2 * 32 * 4
    assert repr(index) == "VectorIndex(dim=32, kind='exact', size=2)"


# --- concurrency -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_concurrent_add_search_remove(kind):
    rng = np.random.default_rng(14)
    base = unit(rng, 4000, 32)
    index = make(kind, 32)
    index.add(np.arange(1000), base[:1000])
    errors: list[BaseException] = []

    def writer(lo: int, hi: int) -> None:
        try:
            for start in range(lo, hi, 50):
                index.add(np.arange(start, start + 50), base[start:start + 50])
                index.remove(np.arange(start, start + 50, 5))
        except BaseException as err:
            errors.append(err)

    def reader() -> None:
        try:
            for i in range(300):
                scores, found = index.search(base[i % 1000], 3)
                assert found[0, 0] == i % 1000 and scores[0, 0] > 0.99
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(1000 + 1000 * w, 2000 + 1000 * w)) for w in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    expected = set(range(1000)) | {i for i in range(1000, 4000) if i % 5}
    assert set(index.ids().tolist()) == expected and len(index) == len(expected)
    sample = np.array(sorted(expected))[::37]
    assert (index.search(base[sample], 1)[1][:, 0] == sample).mean() >= 0.97


# --- real face embeddings ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_templates(engine, faces_dir):
    """dlib embeddings of the labelled training photos, computed once: (names, vectors)."""
    names, vectors = [], []
    for photo in sorted((faces_dir / "examples" / "knn_examples" / "train").glob("*/*")):
        names.append(photo.parent.name)
        vectors.append(engine.embed(photo))
    probe = engine.embed(faces_dir / "examples" / "knn_examples" / "test" / "obama1.jpg")
    return names, np.stack(vectors), probe


@pytest.mark.parametrize(("kind", "params"), [("exact", {}), ("hnsw", {}), ("ivf", {"nlist": 64, "nprobe": 8})])
def test_real_obama_probe_finds_obama_among_10k(real_templates, engine, kind, params):
    names, vectors, probe = real_templates
    assert len(names) == 9 and names.count("obama") == 2
    rng = np.random.default_rng(15)
    index = VectorIndex(vectors.shape[1], kind, **params)
    index.add(np.arange(10_000) + 1000, unit(rng, 10_000, vectors.shape[1]))
    index.add(np.arange(len(names)), vectors)
    scores, found = index.search(probe, k=3)
    assert names[found[0, 0]] == "obama"
    assert scores[0, 0] >= engine.threshold
    impostors = [s for s, i in zip(scores[0], found[0], strict=True) if i >= 1000 or names[i] != "obama"]
    assert max(impostors) < engine.threshold
    obama_ids = [i for i, name in enumerate(names) if name == "obama"]
    assert index.remove(obama_ids) == 2
    scores, found = index.search(probe, k=1)
    assert found[0, 0] not in obama_ids
    assert scores[0, 0] < engine.threshold  # nobody enrolled is a match any more
