"""Cameras on a Ray cluster: how many 720p cameras at 5 fps one and two worker nodes keep up with.

    python bench/cluster_cameras.py [--nodes 1 2] [--cameras-per-node 2] [--fps 5] [--json]

For each node count a local Ray cluster is started on 127.0.0.1 (a head that runs nothing, and N worker nodes of
one CPU each). Each worker node's raylet is pinned to its own core (``sched_setaffinity``), so every camera
actor it starts runs on that core only: on this 2-core machine, "1 node" is one core and "2 nodes" are two.
The cameras are started the way ``sightline serve --cluster`` starts them (a supervisor per camera, the actor
placed by Ray, events into the shared store) on the Hamilton clip upscaled to 720p and played three times
(moving people all the time: the hard case for the motion gate), with Lin-Manuel Miranda enrolled. The rate is
every camera's frames over the window in which all of them were running; "cameras at 5 fps" is that rate / 5.
Other work on the machine slows both rows alike; the header gives the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import faces_small_dir, machine_summary, markdown_table  # noqa: E402

from sightline import FaceEngine  # noqa: E402
from sightline.cluster.cameras import ray_worker_factory  # noqa: E402
from sightline.gallery.gallery import Gallery  # noqa: E402
from sightline.video.config import parse_config  # noqa: E402
from sightline.video.service import CameraService  # noqa: E402
from sightline.video.sources import FrameSource  # noqa: E402
from sightline.video.writer import VideoWriter  # noqa: E402

REPEATS = 3


def make_clip(folder: Path) -> Path:
    """The Hamilton clip at 1280x720, played ``REPEATS`` times (about 27 s)."""
    clip = faces_small_dir() / "examples/short_hamilton_clip.mp4"
    fps = FrameSource(clip).open().info.fps or 30.0
    frames = [cv2.resize(f.image_bgr, (1280, 720), interpolation=cv2.INTER_CUBIC) for f in FrameSource(clip)]
    out = folder / "clip-720p-x3.mp4"
    with VideoWriter(out, fps) as writer:
        for _ in range(REPEATS):
            for frame in frames:
                writer.write(frame)
    return out


def start_cluster(nodes: int) -> tuple[Any, list[Any]]:
    """A head with no CPU and ``nodes`` one-CPU worker nodes, worker node i pinned to core i (modulo cores)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})
    workers = []
    cores = sorted(os.sched_getaffinity(0))
    for i in range(nodes):
        node = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        for info in node.all_processes.get("raylet", []):
            os.sched_setaffinity(info.process.pid, {cores[i % len(cores)]})
        workers.append(node)
    return cluster, workers


def measure(nodes: int, per_node: int, clip: Path, home: Path, engine: FaceEngine, fps: float) -> dict[str, Any]:
    """Run ``nodes * per_node`` cameras on a fresh cluster; frames per second over the all-running window."""
    import ray

    cluster, _ = start_cluster(nodes)
    names = [f"cam{i}" for i in range(nodes * per_node)]
    config = parse_config({"cameras": {n: {"url": str(clip), "fps": fps, "classes": ["person"],
                                           "face_recognition": {"enabled": True}} for n in names},
                           "storage": {"snapshots": str(home / "snapshots")}})
    try:
        with Gallery.open(home, None, engine) as gallery:
            service = CameraService(config, gallery, worker_factory=ray_worker_factory(cluster.address)).start()
            window: dict[str, Any] = {}
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                cameras = service.status()["cameras"]
                frames = sum(c["frames"] for c in cameras)
                running = all(c["status"] == "running" and c["frames"] >= 3 for c in cameras)
                if "start" not in window and running:
                    window.update(start=time.monotonic(), frames=frames)
                if "start" in window and not running:
                    break
                if "start" in window:
                    window.update(end=time.monotonic(), end_frames=frames)
                time.sleep(0.5)
            nodes_used = {c.get("node_id") for c in cameras}
            service.stop()
    finally:
        ray.shutdown()
        cluster.shutdown()
    seconds = window["end"] - window["start"]
    rate = (window["end_frames"] - window["frames"]) / seconds
    return {"nodes": nodes, "cameras": len(names), "nodes_used": len(nodes_used - {None}),
            "window_s": round(seconds, 1), "frames_per_s": round(rate, 2),
            "cameras_at_fps": round(rate / fps, 2), "per_node": round(rate / fps / nodes, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cameras-per-node", type=int, default=2)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # each camera actor asks for a share of its node's one CPU, so that several cameras fit on one node
    os.environ["SIGHTLINE_CAMERA_CPUS"] = str(round(1.0 / args.cameras_per_node, 3))
    engine = FaceEngine().load()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp))
        for nodes in args.nodes:
            home = Path(tmp) / f"home-{nodes}"
            with Gallery.open(home, None, engine) as gallery:
                subject = gallery.create_subject(name="Lin-Manuel Miranda", legal_basis="consent",
                                                 purpose="benchmark", evidence="bench",
                                                 retain_until=datetime.now(UTC) + timedelta(days=1))
                gallery.enroll(subject["id"], [faces_small_dir() / "examples/lin-manuel-miranda.png"])
            rows.append(measure(nodes, args.cameras_per_node, clip, home, engine, args.fps))
            print(json.dumps(rows[-1]), file=sys.stderr)
    if len(rows) >= 2 and rows[0]["frames_per_s"]:
        for row in rows:
            row["scaling"] = round(row["frames_per_s"] / rows[0]["frames_per_s"], 2)
    if args.json:
        print(json.dumps({"machine": machine_summary(), "rows": rows}, indent=2))
        return
    print(f"Cameras on a local Ray cluster, 720p moving clip at {args.fps:g} fps, one core per worker node "
          f"({machine_summary()})\n")
    headers = ["worker nodes (1 core each)", "cameras", "nodes used", "window s", "frames/s", "cameras at fps",
               "per node", "scaling vs 1 node"]
    print(markdown_table(headers, [[r["nodes"], r["cameras"], r["nodes_used"], r["window_s"], r["frames_per_s"],
                                    r["cameras_at_fps"], r["per_node"], r.get("scaling", "")] for r in rows]))


if __name__ == "__main__":
    main()
