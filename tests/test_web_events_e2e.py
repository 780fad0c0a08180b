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


REVIEW_SHOT = Path(__file__).resolve().parents[1] / "docs" / "review.png"


def test_review_items_after_the_camera_run(server, page):
    """Events of the clip grouped per track: fewer items than events, the recognition's snapshot, the mark
    kept on the server, filters by person and date, and "Not this person" on a named item."""
    from playwright.sync_api import expect

    base, token = server
    auth = {"Authorization": f"Bearer {token}"}
    events_total = httpx.get(f"{base}/api/v1/events", headers=auth, params={"limit": 1}).json()["total"]
    page.goto(base + "/#/review")
    if page.get_by_label("API key").is_visible():
        page.get_by_label("API key").fill(token)
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    items = page.locator("#review-items article.review-item")
    expect(items.first).to_be_visible()
    total = int(re.search(r"of (\d+)$", page.locator("#review-count").inner_text()).group(1))
    assert 1 <= total < events_total, (total, events_total)  # grouped, not one row per event

    lin = items.filter(has=page.locator("h2", has_text=LIN)).first
    expect(lin).to_contain_text("stage · person · track #")
    expect(lin).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC"))
    shot = lin.locator("img.review-snap")
    expect(shot).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth === 640", arg=shot.element_handle())
    lin.scroll_into_view_if_needed()
    save_screenshot(page.screenshot(full_page=False), REVIEW_SHOT)
    assert REVIEW_SHOT.stat().st_size < 200_000

    # mark reviewed: it leaves the "Not reviewed" list, is kept on the server, and shows under "Reviewed"
    item_id = lin.get_attribute("data-item")
    lin.get_by_role("button", name=re.compile("^Mark reviewed")).click()
    expect(page.locator(f'#review-items article[data-item="{item_id}"]')).to_have_count(0)
    stored = httpx.get(f"{base}/api/v1/review", headers=auth, params={"reviewed": "true"}).json()
    assert [i["id"] for i in stored["items"]] == [item_id]
    review = page.locator("#page-review")
    page.reload()
    review.get_by_label("Show").select_option(label="Reviewed")
    review.get_by_role("button", name="Filter").click()
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-reviewed", "true")

    # filters: by person (every item names him), then a date range with nothing in it
    review.get_by_label("Show").select_option(label="All")
    review.get_by_label("Person", exact=True).select_option(label=LIN)
    review.get_by_role("button", name="Filter").click()
    expect(items.first).to_be_visible()
    for index in range(items.count()):
        expect(items.nth(index).locator("h2")).to_contain_text(LIN)
    review.get_by_label("From", exact=True).fill("2001-01-01")
    review.get_by_label("To", exact=True).fill("2001-01-02")
    review.get_by_role("button", name="Filter").click()
    expect(page.locator("#review-items")).to_contain_text("Nothing to review here.")
    expect(page.locator("#review-count")).to_have_text("0 items")

    # "Not this person" on the named item records a negative from its recognition's snapshot
    review.get_by_label("From", exact=True).fill("")
    review.get_by_label("To", exact=True).fill("")
    review.get_by_role("button", name="Filter").click()
    page.once("dialog", lambda dialog: dialog.accept())
    named = items.filter(has=page.locator("h2", has_text=LIN)).first
    named.get_by_role("button", name=f"The person in this item is not {LIN}").click()
    expect(named).to_contain_text(f"recorded: not {LIN}")
    subject = next(s for s in httpx.get(f"{base}/api/v1/subjects", headers=auth).json()["items"] if s["name"] == LIN)
    assert httpx.get(f"{base}/api/v1/subjects/{subject['id']}", headers=auth).json()["negatives"] == 1
