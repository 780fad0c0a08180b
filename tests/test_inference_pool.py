"""Face inference in worker processes (``--inference-workers``): same answers and audit rows as in-process.

Two real apps over one data folder (real models, SQLite): one runs inference in its threads (today's path),
one in a pool of one spawned worker process. Each probe goes to both and the answers must agree; a killed
worker is replaced and the server keeps answering.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time

import pytest
from api_support import EXAMPLES, auth, image_bytes, make_app

from sightline.api.keys_store import KeyStore
from sightline.engine import FaceEngine
from sightline.gallery.gallery import Gallery

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported: loopback clusters
TRAIN = EXAMPLES / "knn_examples" / "train"
PROBES = ("knn_examples/test/obama1.jpg", "two_people.jpg", "lin-manuel-miranda.png",
          "knn_examples/test/obama_and_biden.jpg")
CONSENT = {"legal_basis": "consent", "purpose": "pool test", "evidence": "pytest", "retention_days": 1}


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """(threads client, pool client, operator token, admin token) over one gallery of obama and biden."""
    from fastapi.testclient import TestClient

    home = tmp_path_factory.mktemp("pool-home")
    with Gallery.open(home, f"sqlite:///{home / 'sightline.db'}", FaceEngine("auto"), create_key=True) as gallery:
        for person in ("obama", "biden"):
            subject = gallery.create_subject(name=person.title(), **CONSENT)
            assert gallery.enroll_image(str(subject["id"]), TRAIN / person / f"{person}.jpg").accepted
        keys = KeyStore(gallery.sessions)
        operator = keys.create("pool-operator", "operator", created_by="pytest").token
        admin = keys.create("pool-admin", "admin", created_by="pytest").token
    mp = pytest.MonkeyPatch()
    mp.setenv("SIGHTLINE_INFERENCE_WORKERS", "0")
    threads_app = make_app(home)
    mp.setenv("SIGHTLINE_INFERENCE_WORKERS", "1")
    pool_app = make_app(home)
    mp.undo()
    with TestClient(threads_app) as threads, TestClient(pool_app) as pooled:
        assert threads_app.state.sightline.pool is None
        assert pool_app.state.sightline.pool is not None and pool_app.state.sightline.pool.workers == 1
        yield threads, pooled, operator, admin


def _identify(client, token: str, name: str, data: bytes):
    return client.post("/api/v1/faces/identify", headers=auth(token), files={"image": (name, data)})


def _last_identify_row(client) -> dict:
    entry = next(e for e in client.app.state.sightline.audit.tail(5) if e.action == "identify")
    return {"actor": entry.actor, "action": entry.action, "subject_id": entry.subject_id, "outcome": entry.outcome,
            "details": entry.details}


def _faces(body: dict) -> list[dict]:
    return body["results"][0]["faces"]


@pytest.mark.parametrize("probe", PROBES)
def test_identify_in_pool_matches_in_process(apps, probe):
    threads, pooled, operator, _ = apps
    pool = pooled.app.state.sightline.pool
    data = image_bytes(probe)
    expected = _identify(threads, operator, probe, data)
    assert expected.status_code == 200, expected.text
    expected_row = _last_identify_row(threads)
    done = pool.completed
    got = _identify(pooled, operator, probe, data)
    assert got.status_code == 200, got.text
    assert pool.completed == done + 1  # the faces really came from the worker process
    assert _last_identify_row(pooled) == expected_row  # audited here, with the same decision and thresholds
    want, have = expected.json(), got.json()
    assert have["threshold"] == pytest.approx(want["threshold"], abs=1e-4)
    assert len(_faces(have)) == len(_faces(want)) >= 1
    for a, b in zip(_faces(want), _faces(have), strict=True):
        assert b["decision"] == a["decision"]
        assert b.get("subject_id") == a.get("subject_id") and b.get("name") == a.get("name")
        assert b["score"] == pytest.approx(a["score"], abs=1e-4)
        assert b["box"] == pytest.approx(a["box"], abs=0.1)
        assert [c["subject_id"] for c in b["candidates"]] == [c["subject_id"] for c in a["candidates"]]


def test_expected_people_are_named(apps):
    """Guards the comparison above against two equally broken paths: obama is named, the stranger is not."""
    _, pooled, operator, _ = apps
    obama = _faces(_identify(pooled, operator, "o.jpg", image_bytes("knn_examples/test/obama1.jpg")).json())
    stranger = _faces(_identify(pooled, operator, "l.png", image_bytes("lin-manuel-miranda.png")).json())
    assert [f["name"] for f in obama] == ["Obama"]
    assert [f["decision"] for f in stranger] == ["unknown"]


@pytest.mark.parametrize("data", [b"GIF89a not really", image_bytes("obama2.jpg")[:2000], b""],
                         ids=["not-an-image", "truncated-jpeg", "empty"])
def test_bad_image_gets_the_same_4xx(apps, data):
    threads, pooled, operator, _ = apps
    want = _identify(threads, operator, "bad.jpg", data)
    got = _identify(pooled, operator, "bad.jpg", data)
    assert 400 <= want.status_code < 500
    assert (got.status_code, got.json()) == (want.status_code, want.json())


def test_detect_and_verify_in_pool_match_in_process(apps):
    threads, pooled, _, admin = apps
    files = {"image_a": ("a.jpg", image_bytes("knn_examples/test/obama1.jpg")), "image_b": ("b.jpg",
                                                                                          image_bytes("obama2.jpg"))}
    want = threads.post("/api/v1/faces/verify", headers=auth(admin), files=files).json()
    got = pooled.post("/api/v1/faces/verify", headers=auth(admin), files=files).json()
    assert got["similarity"] == pytest.approx(want["similarity"], abs=1e-4) and got["same_person"] is True
    detect = {"image": ("two.jpg", image_bytes("two_people.jpg"))}
    want = threads.post("/api/v1/faces/detect", headers=auth(admin), files=detect).json()
    got = pooled.post("/api/v1/faces/detect", headers=auth(admin), files=detect).json()
    assert len(got["results"][0]["faces"]) == len(want["results"][0]["faces"]) == 2
    for a, b in zip(want["results"][0]["faces"], got["results"][0]["faces"], strict=True):
        assert b["box"] == pytest.approx(a["box"], abs=0.1)
    nobody = {"image_a": ("a.jpg", image_bytes("obama2.jpg")), "image_b": ("b.png", _blank_png())}
    want = threads.post("/api/v1/faces/verify", headers=auth(admin), files=nobody)
    got = pooled.post("/api/v1/faces/verify", headers=auth(admin), files=nobody)
    assert (got.status_code, got.json()) == (want.status_code, want.json()) and want.status_code == 422


def _blank_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (120, 130, 140)).save(buffer, "PNG")
    return buffer.getvalue()


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_killed_worker_is_replaced(apps):
    _, pooled, operator, _ = apps
    pool = pooled.app.state.sightline.pool
    data = image_bytes("knn_examples/test/obama1.jpg")
    assert _identify(pooled, operator, "o.jpg", data).status_code == 200
    first = pool.worker_pids()
    assert len(first) == 1
    restarts = pool.restarts
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(_identify(pooled, operator, "o.jpg", data)))
    request.start()
    time.sleep(0.15)  # the request is being decoded or is in the worker
    _kill(first[0])
    request.join(timeout=120)
    assert answers and answers[0].status_code == 200, answers[0].text if answers else "no answer"
    again = _identify(pooled, operator, "o.jpg", data)
    assert again.status_code == 200 and _faces(again.json())[0]["name"] == "Obama"
    assert pool.restarts == restarts + 1
    assert pool.worker_pids() and first[0] not in pool.worker_pids()
    assert pooled.get("/ready").status_code == 200



@pytest.fixture
def ray_address(monkeypatch):
    """A local Ray cluster on loopback (own temp dir): a head with no CPU for work and one worker node of 1 CPU."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from sightline.cluster.runtime import disconnect

    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    own = tempfile.mkdtemp(prefix="ip", dir="/tmp")  # short (socket paths), and not /tmp/ray, which others use
    small = {"node_ip_address": "127.0.0.1", "object_store_memory": 80 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                            "temp_dir": own, **small})
    try:
        cluster.add_node(num_cpus=1, **small)
        yield cluster.address
    finally:
        disconnect()
        cluster.shutdown()
        shutil.rmtree(own, ignore_errors=True)


def test_ray_pool_gives_the_engine_faces_and_survives_a_killed_actor(ray_address):
    import asyncio

    from sightline.api.inference_pool import RayInferencePool
    from sightline.vision.image_io import load_image

    engine = FaceEngine("auto")
    pixels = load_image(image_bytes("knn_examples/test/obama_and_biden.jpg"))
    expected = engine.detect_array(pixels, embed=True)
    pool = RayInferencePool(ray_address, 1, engine.backend, None)
    try:
        pool.warm()
        faces, timings = asyncio.run(pool.faces(pixels, "embed"))
        assert len(faces) == len(expected) >= 2 and set(timings) == {"detect", "embed"}
        for want, got in zip(expected, faces, strict=True):
            assert float(want.embedding @ got.embedding) == pytest.approx(1.0, abs=1e-4)
        pool._ray.kill(pool._actors[0], no_restart=False)  # Ray restarts it; a failed call is retried once
        faces, _ = asyncio.run(pool.faces(pixels, "main"))
        largest = max(expected, key=lambda f: f.width * f.height)
        assert len(faces) == 1 and float(faces[0].embedding @ largest.embedding) == pytest.approx(1.0, abs=1e-4)
        assert pool.completed == 2
    finally:
        pool.close()
