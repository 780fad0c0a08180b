"""Issue 8, against a real `sightline serve` process: decode memory under concurrent bombs, and what reaches logs.

One server (fresh data folder, real models, 4 inference threads as on the reporter's machine) with its
stdout and stderr captured to files, as a service manager would capture them.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_support import MODELS, image_bytes
from live_servers import free_port
from PIL import Image

SEARCHED_NAME = "Zebulon Quartermaine"


def png16_bomb(side: int = 7000) -> bytes:
    """A 16-bit greyscale PNG of side x side pixels (49 MP, just under the 50 MP limit) that is ~100 KB on disk."""
    pixels = np.zeros((side, side), dtype=np.uint16)
    pixels[::50, ::50] = 40000
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of process ``pid`` from /proc (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for pid {pid}")


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of ``pid`` to its current RSS; False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Server:
    """`sightline serve` as a subprocess with its output in two files."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.out, self.err = home / "stdout.log", home / "stderr.log"
        env = {**os.environ, "SIGHTLINE_MODELS": str(MODELS), "SIGHTLINE_INFERENCE_THREADS": "4",
               "COLUMNS": "200"}
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "sightline", "serve", "--home", str(home),
                                             "--port", str(self.port), "--log-level", "info"],
                                            stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: {self.logs()}"
            try:
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"server not ready: {self.logs()}")

    def logs(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _create_key(home: Path, role: str) -> str:
    result = subprocess.run([sys.executable, "-m", "sightline", "keys", "create", "--role", role, "--name",
                             f"test-{role}", "--home", str(home), "--json"], capture_output=True, text=True,
                            env={**os.environ, "SIGHTLINE_MODELS": str(MODELS)}, check=True)
    return json.loads(result.stdout)["token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("hardening-serve")
    viewer = _create_key(home, "viewer")  # before serve, which then bootstraps the admin key itself
    running = Server(home)
    try:
        running.wait_ready()
        running.viewer = viewer
        yield running
    finally:
        running.stop()


def _bootstrap_token(server: Server) -> str:
    """The admin key `serve` created: from its 0600 file (or, on the old code, from its output)."""
    path = server.home / "bootstrap-admin-key"
    if path.exists():
        assert path.stat().st_mode & 0o077 == 0, "the bootstrap key file must be private (0600)"
        return path.read_text().strip()
    import re

    found = re.search(r"sl_[0-9a-f]{12}_[A-Za-z0-9_-]+", server.logs())
    assert found, "no bootstrap admin key anywhere"
    return found.group(0)


def test_four_16bit_bombs_at_once_keep_rss_under_1_gib(server):
    headers = {"Authorization": f"Bearer {server.viewer}"}
    warm = httpx.post(f"{server.base}/api/v1/faces/detect", headers=headers, timeout=60,
                      files={"image": ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")})
    assert warm.status_code == 200, warm.text
    bomb = png16_bomb()
    assert len(bomb) < 200_000
    pid = server.process.pid
    time.sleep(0.5)
    baseline = rss_kib(pid)
    exact_peak = reset_peak(pid)
    sampled = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            sampled.append(rss_kib(pid))
            time.sleep(0.01)

    def upload(index: int) -> httpx.Response:
        return httpx.post(f"{server.base}/api/v1/faces/detect", headers=headers, timeout=120,
                          files={"image": (f"bomb{index}.png", bomb, "image/png")})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(upload, range(4)))
    finally:
        done.set()
        sampler.join()
    peak = max(max(sampled), rss_kib(pid, "VmHWM") if exact_peak else 0)
    growth_mib = (peak - baseline) / 1024
    print(f"RSS baseline {baseline / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, growth {growth_mib:.0f} MiB, "
          f"statuses {[r.status_code for r in responses]}")
    for response in responses:
        assert response.status_code in (200, 413, 503), response.text
        assert set(response.json()) <= {"backend", "results", "error"}
    assert any(r.status_code == 200 for r in responses), "the server should still decode one such image"
    assert growth_mib < 1024, f"4 concurrent 16-bit PNGs grew the server by {growth_mib:.0f} MiB"


def test_searched_names_and_bootstrap_key_stay_out_of_the_logs(server):
    token = _bootstrap_token(server)
    response = httpx.get(f"{server.base}/api/v1/subjects", params={"q": SEARCHED_NAME, "limit": 5},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    time.sleep(0.5)  # let the access log line reach the file
    logs = server.logs()
    assert "GET /api/v1/subjects?" in logs, "the access log is on at --log-level info"
    assert "limit=5" in logs, "harmless parameters stay readable"
    for secret in (SEARCHED_NAME, SEARCHED_NAME.replace(" ", "+"), SEARCHED_NAME.replace(" ", "%20"), token):
        assert secret not in logs, f"{secret[:12]}... reached the server's log output"
