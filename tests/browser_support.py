"""Shared pieces of the browser tests: a real `sightline serve` subprocess and headless Debian Chromium.

Never downloads a browser: Playwright drives /usr/bin/chromium (Debian's `chromium` package).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from api_support import MODELS
from conftest import require_service
from live_servers import free_port
from PIL import Image

CHROMIUM = Path(os.environ.get("SIGHTLINE_CHROMIUM", "/usr/bin/chromium"))
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
# a synthetic camera (test pattern) so the camera-capture path runs headless
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
ADMIN_TOKEN = re.compile(r"(sl_[0-9a-f]{12}_[A-Za-z0-9_-]+)")
KEY_FILE = re.compile(r"admin API key in (\S*bootstrap-admin-key)")


def start_serve(home: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """Start `sightline serve` on a free loopback port; returns the process and its base URL."""
    port = free_port()
    env = {**os.environ, "SIGHTLINE_MODELS": str(MODELS), "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "sightline", "serve", "--home", str(home), "--port", str(port),
                                "--log-level", "warning", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)
    return process, f"http://127.0.0.1:{port}"


def read_admin_token(process: subprocess.Popen, deadline: float) -> str:
    """The bootstrap admin key of a first `sightline serve`: printed on a terminal, else in the 0600 file
    whose path it prints (its stdout is a pipe here)."""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = ADMIN_TOKEN.search(line) or KEY_FILE.search(line)
        if match and match.re is KEY_FILE:
            return Path(match.group(1)).read_text().strip()
        if match:
            return match.group(1)
    raise AssertionError("sightline serve announced no admin key")


def wait_ready(process: subprocess.Popen, base: str, deadline: float) -> None:
    """Wait until /ready answers 200 (models loaded, database reachable)."""
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sightline serve exited: {process.stdout.read()}"
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("server not ready in time")


def stop(process: subprocess.Popen) -> None:
    """Ask the server to stop and wait for it."""
    process.terminate()
    process.wait(timeout=30)


@contextmanager
def open_page(*, extra_args: list[str] | None = None, camera: bool = False, timeout_ms: int = 60_000) -> Iterator:
    """A page in headless Debian Chromium; fails the test if the page raised any JavaScript error."""
    from playwright.sync_api import sync_playwright

    require_service(CHROMIUM.exists(), f"Chromium ({CHROMIUM})", "apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=BROWSER_ARGS + (extra_args or []))
        context = browser.new_context(viewport={"width": 1100, "height": 760}, accept_downloads=True)
        if camera:
            context.grant_permissions(["camera"])
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert not errors, f"JavaScript errors in the page: {errors}"


def save_screenshot(png: bytes, path: Path) -> None:
    """Keep committed screenshots small: a 96-colour palette PNG."""
    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT)
    path.parent.mkdir(exist_ok=True)
    small.save(path, optimize=True)
