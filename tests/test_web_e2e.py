"""End-to-end: the web UI in headless Debian Chromium against a real `sightline serve` on loopback.

Enrols a subject through the UI (consent fields + a photo dropped on the drop zone), identifies them on
the Try-it page, erases them, and checks the audit page lists all three. Saves docs/ui.png.
"""

from __future__ import annotations

import base64
import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_support import EXAMPLES, MODELS
from PIL import Image

CHROMIUM = Path(os.environ.get("SIGHTLINE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "ui.png"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                # a synthetic camera (test pattern) so the camera-capture path runs headless
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`sightline serve` on a fresh data folder; yields (base URL, the admin token it printed)."""
    home = tmp_path_factory.mktemp("e2e-home")
    port = _free_port()
    env = {**os.environ, "SIGHTLINE_MODELS": str(MODELS), "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "sightline", "serve", "--home", str(home), "--port", str(port),
                                "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        token, deadline = None, time.monotonic() + 120
        while token is None and time.monotonic() < deadline:
            match = re.search(r"(sl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", process.stdout.readline())
            token = match.group(1) if match else None
        assert token, "sightline serve printed no admin key"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} missing: install the Debian 'chromium' package (scripts/apt-packages.txt)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 760}, accept_downloads=True)
        context.grant_permissions(["camera"])
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert not errors, f"JavaScript errors in the page: {errors}"


def _drop_file(page, selector: str, path: Path, mime: str) -> None:
    """Drop a real file on an element the way a user's drag-and-drop does (DataTransfer + drop event)."""
    data = base64.b64encode(path.read_bytes()).decode()
    page.eval_on_selector(selector, """(zone, [data, name, mime]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: mime }));
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", [data, path.name, mime])


def _save_screenshot(png: bytes) -> None:
    """Keep docs/ui.png small: a 96-colour palette PNG."""
    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    small.save(SCREENSHOT, optimize=True)


def test_enrol_identify_erase_and_audit_in_the_browser(server, page):
    from playwright.sync_api import expect

    base, token = server
    page.goto(base + "/")
    page.get_by_label("API key").fill("sl_000000000000_" + "x" * 43)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Subjects")).to_be_visible()
    expect(page.locator("#who-label")).to_have_text("bootstrap-admin (admin)")

    # 1. enrol through the form: consent fields + a photo dropped on the drop zone
    page.get_by_label("Name").fill("Barack Obama")
    page.get_by_label("Legal basis").select_option("consent")
    page.get_by_label("Purpose").fill("staff building access")
    page.get_by_label("Evidence").fill("consent-form-0042")
    page.get_by_label("Retention (days)").fill("90")
    page.get_by_role("button", name="Use camera").click()  # camera capture adds a photo; remove it again
    page.get_by_role("button", name="Capture photo").click()
    expect(page.locator("#enrol-photos img")).to_have_count(1)
    page.locator("#enrol-photos button").click()
    page.get_by_role("button", name="Stop camera").click()
    expect(page.locator("#enrol-photos img")).to_have_count(0)
    _drop_file(page, "#dropzone", EXAMPLES / "obama.jpg", "image/jpeg")
    expect(page.locator("#enrol-photos img")).to_have_count(1)
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator("#enrol-status")).to_contain_text("Barack Obama enrolled with 1 template(s)")
    row = page.locator("#subjects-table tbody tr", has_text="Barack Obama")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("consent-form-0042")

    # 2. identify on the Try-it page: the name is listed and drawn
    page.get_by_role("link", name="Try it").click()
    page.get_by_label("Photo to analyse").set_input_files(str(EXAMPLES / "obama2.jpg"))
    expect(page.locator("#try-results li")).to_have_text(re.compile(r"Face 1: Barack Obama \(score 0\.\d+\)"))
    expect(page.locator("#try-status")).to_contain_text("1 face(s) found, 1 recognised")
    with Image.open(EXAMPLES / "obama2.jpg") as photo:  # the photo was drawn at full resolution
        assert page.eval_on_selector("#try-canvas", "c => [c.width, c.height]") == list(photo.size)
    _save_screenshot(page.screenshot(full_page=False))

    # 3. export (a zip download), then erase with confirmation
    page.get_by_role("link", name="Subjects").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export Barack Obama").click()
    assert re.fullmatch(r"sightline-export-[0-9a-f]{32}\.zip", download.value.suggested_filename)
    page.get_by_role("button", name="Erase Barack Obama").click()
    expect(page.locator("#erase-dialog")).to_be_visible()
    page.get_by_role("button", name="Erase permanently").click()
    expect(page.locator("#toast")).to_contain_text("Barack Obama erased")
    expect(page.locator("#subjects-table tbody tr", has_text="Barack Obama")).to_have_count(0)

    # 4. the audit page shows all three, and the chain is intact
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("#chain-status")).to_contain_text("Audit chain intact")
    for action in ("enrol", "identify", "erase"):
        expect(page.locator(f'#audit-table tbody tr[data-action="{action}"]').first).to_contain_text(
            "bootstrap-admin")
    page.get_by_label("Action").select_option("erase")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    expect(page.locator("#audit-table tbody tr")).to_contain_text("erase")
    assert SCREENSHOT.stat().st_size < 200_000
