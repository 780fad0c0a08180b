"""Cameras on a real Ray cluster (head + 2 worker nodes on 127.0.0.1), two API replicas, one real PostgreSQL.

Replica A runs ``sightline serve --cluster ADDRESS --cameras`` with four file cameras of the same clip; replica
B serves the same store without cameras. Mid-run the worker node under camera ``cam0`` is killed: its cameras
must start again on the other node and finish, and every camera must end with the same events as the others
(same clip, same settings): nothing lost, nothing stored twice. The audit chain must verify afterwards.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from live_servers import free_port, stop_servers, wait_healthy

from sightline.api.keys_store import KeyStore
from sightline.gallery.gallery import Gallery
from sightline.store.events_repo import EventRow

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read once, when ray is first imported: loopback only
ray = pytest.importorskip("ray", reason="the cluster tests need Ray: pip install -e '.[dev,cluster]'")

DATA = Path(os.environ.get("SIGHTLINE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
EXAMPLES = DATA / "faces-small" / "examples"
CLIP = EXAMPLES / "short_hamilton_clip.mp4"
CAMERAS = [f"cam{i}" for i in range(4)]
CONSENT = {"legal_basis": "consent", "purpose": "cluster camera test", "evidence": "form-2026-0077",
           "retention_days": 30, "enrolled_by": "pytest"}


@pytest.fixture
def ray_cluster(monkeypatch):
    """A local Ray cluster on loopback: a head with no CPU for work, and two worker nodes of 2 CPUs."""
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1") for _ in range(2)]
    try:
        yield cluster, workers
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def _serve(home: Path, url: str, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "SIGHTLINE_INFERENCE_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    return subprocess.Popen([sys.executable, "-m", "sightline", "serve", "--home", str(home), "--db-url", url,
                             "--port", str(port), "--retention-every", "0", "--log-level", "warning", *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _cameras(client: httpx.Client, port: int) -> dict[str, dict]:
    response = client.get(f"http://127.0.0.1:{port}/api/v1/cameras")
    assert response.status_code == 200, response.text
    return {camera["name"]: camera for camera in response.json()["cameras"]}


def _timeline(rows: list[EventRow]) -> list[tuple]:
    """A camera's events as (type, track, zone, seconds into the video, subject), sorted."""
    start = min(row.start_time for row in rows)
    return sorted((row.type, row.track_id, row.zone, round((row.start_time - start).total_seconds(), 3),
                   row.subject_id) for row in rows)


def test_cameras_survive_a_dead_node_with_every_event_once(ray_cluster, postgres_server, tmp_path, engine):
    cluster, workers = ray_cluster
    url = postgres_server.new_database()
    home = tmp_path / "home"
    with Gallery.open(home, url, engine) as gallery:
        lin = gallery.create_subject(name="Lin-Manuel Miranda", **CONSENT)
        gallery.enroll(str(lin["id"]), [EXAMPLES / "lin-manuel-miranda.png"])
        admin = KeyStore(gallery.sessions).create("cluster-test-admin", "admin", created_by="pytest").token
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump({
        "cameras": {name: {"url": str(CLIP), "fps": 3, "classes": ["person"], "face_recognition": {"enabled": True}}
                    for name in CAMERAS},
        "storage": {"snapshots": str(home / "snapshots")}}))
    port_a, port_b = free_port(), free_port()
    procs = [_serve(home, url, port_a, "--cluster", cluster.address, "--cameras", str(config))]
    headers = {"Authorization": f"Bearer {admin}"}
    try:
        wait_healthy([(procs[0], port_a)])  # A holds the jobs lock (and so the cameras) before B starts
        procs.append(_serve(home, url, port_b))
        with httpx.Client(headers=headers, timeout=30) as client:
            # the cameras are placed on both worker nodes; kill the node of cam0 once every camera is running
            deadline = time.monotonic() + 240
            while True:
                cameras = _cameras(client, port_a)
                if len(cameras) == 4 and all(c["frames"] >= 6 and c["node_id"] for c in cameras.values()):
                    break
                assert time.monotonic() < deadline, f"cameras did not start: {cameras}"
                time.sleep(0.3)
            assert {c["runner"] for c in cameras.values()} == {"ray"}
            assert len({c["node_id"] for c in cameras.values()}) == 2, "the cameras were not spread over the nodes"
            victim = cameras["cam0"]["node_id"]
            on_victim = sorted(name for name, c in cameras.items() if c["node_id"] == victim)
            cluster.remove_node(next(node for node in workers if node.node_id == victim))

            wait_healthy([(procs[1], port_b)])
            lin_photo = (EXAMPLES / "lin-manuel-miranda.png").read_bytes()
            found = client.post(f"http://127.0.0.1:{port_b}/api/v1/faces/identify",
                                files={"image": ("lin.png", lin_photo)})
            assert found.status_code == 200, found.text
            assert found.json()["results"][0]["faces"][0]["decision"] == str(lin["id"])

            deadline = time.monotonic() + 300
            while True:
                cameras = _cameras(client, port_a)
                if all(c["status"] in ("finished", "failed") for c in cameras.values()):
                    break
                assert time.monotonic() < deadline, f"cameras did not finish: {cameras}"
                time.sleep(0.5)
        assert {c["status"] for c in cameras.values()} == {"finished"}, cameras
        for name in on_victim:  # restarted on the node that is left, with their replayed events skipped
            assert cameras[name]["restarts"] >= 1 and cameras[name]["nodes"][0] == victim, cameras[name]
            assert cameras[name]["node_id"] != victim
            assert cameras[name]["duplicates_skipped"] > 0, cameras[name]
    finally:
        stop_servers(procs)

    with Gallery.open(home, url, engine) as gallery, gallery.sessions() as session:
        rows = session.query(EventRow).all()
        verified = gallery.audit.verify()
    per_camera: dict[str, list[EventRow]] = collections.defaultdict(list)
    for row in rows:
        per_camera[row.camera].append(row)
    assert sorted(per_camera) == CAMERAS
    timelines = {name: _timeline(events) for name, events in per_camera.items()}
    reference = timelines["cam3"] if "cam3" not in on_victim else timelines["cam2"]
    for name, timeline in timelines.items():
        assert timeline == reference, f"{name} differs from a camera that ran undisturbed"
    kinds = collections.Counter(kind for kind, *_ in reference)
    assert kinds["track_start"] == kinds["track_end"] > 0
    assert kinds["person_seen"] >= 1
    tracks = collections.Counter((kind, track) for kind, track, *_ in reference if kind.startswith("track_"))
    assert set(tracks.values()) == {1}, "a track has two start or end events"
    assert verified.ok, verified.reason
