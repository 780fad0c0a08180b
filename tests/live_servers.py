"""Real streaming servers for the tests, on 127.0.0.1 and free ports (no mocks).

``LiveServer`` runs a server subprocess that can be killed and restarted on the same port;
``rtsp_test_server.py`` (GStreamer, run by Debian's Python) serves the clip over RTSP.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(servers: list[tuple[subprocess.Popen, int]], timeout: float = 180) -> None:
    """Wait until every ``sightline serve`` process answers ``/health`` on its port; fail (with its stderr) if one
    exits first or ``timeout`` seconds pass."""
    import httpx

    deadline = time.monotonic() + timeout
    for proc, port in servers:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise AssertionError(f"server on port {port} exited: {proc.stderr.read().decode(errors='replace')}")
            assert time.monotonic() < deadline, f"server on port {port} did not start"
            time.sleep(0.2)


def stop_servers(procs: list[subprocess.Popen]) -> None:
    """Terminate server processes (killing any still running after 30 s) and close their stderr pipes."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()


def is_listening(port: int) -> bool:
    """True once something listens on 127.0.0.1:port (read from /proc, without connecting)."""
    needle = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(line.split()[1] == needle and line.split()[3] == "0A" for line in lines)


class LiveServer:
    """A streaming server subprocess that can be killed and started again on the same port."""

    def __init__(self, argv: list[str], port: int) -> None:
        self.argv, self.port, self.proc = argv, port, None

    def start(self) -> LiveServer:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not is_listening(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode(errors='replace')}")
            assert time.monotonic() < deadline, "server did not start listening"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=5)
            self.proc.stderr.close()


def rtsp_argv(clip: Path, port: int) -> list[str]:
    """The command that serves ``clip`` at rtsp://127.0.0.1:PORT/live."""
    return [SYSTEM_PYTHON, str(HERE / "rtsp_test_server.py"), str(clip), str(port)]


def gstreamer_rtsp_available() -> bool:
    """True when Debian's python3-gi and the GStreamer RTSP server typelib are installed."""
    probe = [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"]
    return subprocess.run(probe, capture_output=True).returncode == 0
