"""``sightline watch`` on a real RTSP stream: names the enrolled person live, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time


def test_watch_names_enrolled_person_on_a_live_stream(rtsp_server, tmp_path, faces_dir) -> None:
    env = {**os.environ, "SIGHTLINE_HOME": str(tmp_path / "home")}
    enrol = subprocess.run([sys.executable, "-m", "sightline", "gallery", "enroll",
                            str(faces_dir / "examples/lin-manuel-miranda.png"), "--name", "Lin-Manuel Miranda",
                            "--legal-basis", "consent", "--purpose", "live test", "--evidence", "form-3",
                            "--retention-days", "1", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert enrol.returncode == 0, enrol.stdout + enrol.stderr
    url = f"rtsp://127.0.0.1:{rtsp_server.port}/live"
    watch = subprocess.Popen([sys.executable, "-m", "sightline", "watch", url, "--camera", "stage", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[dict] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(e.get("type") == "person_seen" for e in lines):
            ready, _, _ = select.select([watch.stdout], [], [], 1.0)
            if ready:
                text = watch.stdout.readline()
                if not text:
                    break
                lines.append(json.loads(text))
        statuses = [e["status"] for e in lines if "status" in e]
        seen = [e for e in lines if e.get("type") == "person_seen"]
        assert "connected" in statuses, lines
        assert seen and seen[0]["subject_name"] == "Lin-Manuel Miranda" and seen[0]["camera"] == "stage"
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=20) == 0
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
