"""End-to-end: the Vehicles page in headless Debian Chromium against `sightline serve --cameras` with plates on.

RK115AN is put on the watch list through the API of a first server; a second server on the same data folder
runs one file camera (``plates: {enabled: true}``) on a video made with PyAV from two real plate photos. The
Vehicles page then lists one passage per car: the listed plate with its watch-list hit, the other as
"unlisted" (only its keyed hash is stored). Saves docs/vehicles.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import httpx
import pytest
import yaml
from browser_support import open_page, read_admin_token, save_screenshot, start_serve, stop, wait_ready
from plates_support import truth
from plates_video_support import pan_zoom, write_video

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "vehicles.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, admin token, listed plate, unlisted plate) once the file camera has finished."""
    home = tmp_path_factory.mktemp("vehicles-e2e")
    listed_path, _, listed = truth("eu", "test_004")
    other_path, _, other = truth("eu", "test_014")
    frames = [pan_zoom(cv2.imread(str(listed_path)), i, 6, zoom=1.1) for i in range(6)]
    frames += [pan_zoom(cv2.imread(str(other_path)), i, 6, zoom=1.1) for i in range(6)]
    video = write_video(home / "lane.mp4", frames)
    deadline = time.monotonic() + 180
    first, base = start_serve(home)
    try:
        token = read_admin_token(first, deadline)
        wait_ready(first, base, deadline)
        added = httpx.post(f"{base}/api/v1/plates/lists", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                           json={"list": "watch", "plate": listed, "legal_basis": "legitimate_interest",
                                 "purpose": "vehicles page test", "retention_days": 30})
        assert added.status_code == 201, added.text
    finally:
        stop(first)
    config = home / "cameras.yaml"
    config.write_text(yaml.safe_dump({"cameras": {"lane": {
        "url": str(video), "fps": 5, "motion": {"enabled": False}, "plates": {"enabled": True}}}}))
    second, base = start_serve(home, "--cameras", str(config))
    try:
        wait_ready(second, base, deadline)
        status = None
        while time.monotonic() < deadline:
            cams = httpx.get(f"{base}/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
            status = cams["cameras"][0]
            if status["status"] in ("finished", "failed"):
                break
            time.sleep(0.5)
        assert status and status["status"] == "finished", status
        yield base, token, listed, other
    finally:
        stop(second)


def test_vehicles_page_lists_passages(server):
    from playwright.sync_api import expect

    base, token, listed, other = server
    with open_page(timeout_ms=30_000) as page:
        page.goto(base + "/")
        page.get_by_label("API key").fill(token)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Subjects")).to_be_visible()
        page.get_by_role("link", name="Vehicles").click()
        expect(page.get_by_role("heading", name="Vehicles")).to_be_visible()
        rows = page.locator("#vehicles-table tbody tr")
        expect(rows).to_have_count(2)
        hit = rows.filter(has_text=listed)
        expect(hit).to_have_count(1)
        expect(hit.locator(".list-hit")).to_have_text("watch list")
        expect(hit.locator("img.snap")).to_have_attribute("src", re.compile(r"^blob:"))
        unlisted = rows.filter(has_text="unlisted")
        expect(unlisted).to_have_count(1)
        expect(unlisted.locator(".list-hit")).to_have_text("–")
        assert other not in page.content()  # a plate on no list never reaches the page
        save_screenshot(page.screenshot(full_page=True), SCREENSHOT)
