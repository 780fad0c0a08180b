"""End-to-end: the Events and Cameras pages in headless Debian Chromium against `sightline serve --cameras`.

Lin-Manuel Miranda is enrolled through the API of a first server; a second server on the same data
folder runs one file camera on the Hamilton clip. Once the camera has finished, the Cameras page shows
its status and live view, and the Events page lists a "person seen" event naming him with its snapshot;
the filters narrow the list. Saves docs/events.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
import yaml
from api_support import EXAMPLES
from browser_support import open_page, read_admin_token, save_screenshot, start_serve, stop, wait_ready

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "events.png"
LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, admin token) of `sightline serve --cameras` once its file camera has finished."""
    home = tmp_path_factory.mktemp("events-e2e")
    deadline = time.monotonic() + 150
    first, base = start_serve(home)
    try:
        token = read_admin_token(first, deadline)
        wait_ready(first, base, deadline)
        enrolled = httpx.post(f"{base}/api/v1/subjects", headers={"Authorization": f"Bearer {token}"}, timeout=60,
                              data={"name": LIN, "legal_basis": "consent", "purpose": "events page test",
                                    "evidence": "form-e2e", "retention_days": "30"},
                              files={"image": ("lin.png", (EXAMPLES / "lin-manuel-miranda.png").read_bytes())})
        assert enrolled.status_code == 201, enrolled.text
    finally:
        stop(first)
    config = home / "cameras.yaml"
    config.write_text(yaml.safe_dump({"cameras": {"stage": {
        "url": str(EXAMPLES / "short_hamilton_clip.mp4"), "fps": 5, "face_recognition": {"enabled": True}}}}))
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
        print(f"camera on the clip inside serve: {status['frames']} frames, {status['fps_average']} fps, "
              f"stage ms/frame {status['stage_ms_per_frame']}")
        yield base, token
    finally:
        stop(second)


@pytest.fixture(scope="module")
def page(server):
    with open_page(timeout_ms=30_000) as page:
        yield page


def test_cameras_and_events_pages(server, page):
    from playwright.sync_api import expect

    base, token = server
    page.goto(base + "/")
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Subjects")).to_be_visible()

    # Cameras: the status card, then the live view drawn from the MJPEG stream on a canvas
    page.get_by_role("link", name="Cameras").click()
    card = page.locator('article[data-camera="stage"]')
    expect(card.locator("[data-status]")).to_have_text("finished")
    expect(card).to_contain_text("average (target 5.0)")
    expect(card).to_contain_text("person_seen")
    page.get_by_role("button", name="Watch stage live").click()
    expect(page.locator("#live-card")).to_be_visible()
    expect(page.locator("#live-canvas")).to_have_attribute("data-frames", re.compile(r"^[1-9]\d*$"))
    assert page.eval_on_selector("#live-canvas", "c => [c.width, c.height]") == [640, 360]
    expect(page.locator("#live-status")).to_contain_text("Frame ")
    page.get_by_role("button", name="Stop live view").click()
    expect(page.locator("#live-card")).to_be_hidden()

    # Events: a "person seen" row naming him, with its snapshot loaded through the API
    page.get_by_role("link", name="Events").click()
    seen = page.locator('#events-table tbody tr[data-type="person_seen"]', has_text=LIN)
    expect(seen.first).to_be_visible()
    snapshot = page.locator('#events-table tbody tr[data-type="person_seen"] img.snap').first
    expect(snapshot).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth === 640", arg=snapshot.element_handle())
    expect(page.locator('#events-table tbody tr[data-type="unknown_person"]').first).to_contain_text("not enrolled")
    save_screenshot(page.screenshot(full_page=False), SCREENSHOT)
    assert SCREENSHOT.stat().st_size < 200_000

    events = page.locator("#page-events")
    total = int(re.search(r"of (\d+)", page.locator("#events-count").inner_text()).group(1))
    # filter by person: only the recognitions of him remain
    events.get_by_label("Person", exact=True).select_option(label=LIN)
    events.get_by_role("button", name="Filter").click()
    expect(page.locator("#events-count")).not_to_have_text(re.compile(rf"of {total}$"))
    rows = page.locator("#events-table tbody tr")
    assert rows.count() >= 1
    expect(page.locator('#events-table tbody tr:not([data-type="person_seen"])')).to_have_count(0)
    for index in range(rows.count()):
        expect(rows.nth(index)).to_contain_text(LIN)
    # filter by type and object: track starts of people, nobody named
    events.get_by_label("Person", exact=True).select_option("")
    events.get_by_label("Event type", exact=True).select_option(label="Track started")
    events.get_by_label("Object", exact=True).select_option("person")
    events.get_by_role("button", name="Filter").click()
    expect(page.locator('#events-table tbody tr[data-type="track_start"]').first).to_be_visible()
    expect(page.locator('#events-table tbody tr:not([data-type="track_start"])')).to_have_count(0)
    expect(page.locator("#events-table tbody")).not_to_contain_text(LIN)
    # a camera that saw nothing in that time range: an empty list, said so
    events.get_by_label("From", exact=True).fill("2001-01-01")
    events.get_by_label("To", exact=True).fill("2001-01-02")
    events.get_by_role("button", name="Filter").click()
    expect(page.locator("#events-table tbody")).to_contain_text("No events match.")
    expect(page.locator("#events-count")).to_have_text("0 events")
