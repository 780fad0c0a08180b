"""End-to-end: cameras added, changed and disabled from the web UI in headless Debian Chromium, no restart.

A plain `sightline serve` (no cameras.yaml) with Lin-Manuel Miranda enrolled. On the Cameras page an admin adds
a file camera on the Hamilton clip: a misspelt object class is refused with `config validate`'s message; a zone
is drawn on the picture; the camera starts at once and its events (a "person seen" naming him, zone entries)
show on the Events page, and its review items carry a frame strip. Changed to 60 fps (more than the clip has),
it is restarted with the new settings and warned about as running below its target; disabled, it stops. Saves
docs/cameras.png. Then the Audit page names the enrolled person for a viewer key, and not once he is erased.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from api_support import EXAMPLES
from browser_support import open_page, read_admin_token, save_screenshot, start_serve, stop, wait_ready

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "cameras.png"
CLIP = EXAMPLES / "short_hamilton_clip.mp4"
LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, admin token) of a plain `sightline serve` with Lin enrolled."""
    home = tmp_path_factory.mktemp("cameras-e2e")
    deadline = time.monotonic() + 120
    process, base = start_serve(home)
    try:
        token = read_admin_token(process, deadline)
        wait_ready(process, base, deadline)
        enrolled = httpx.post(f"{base}/api/v1/subjects", headers={"Authorization": f"Bearer {token}"}, timeout=60,
                              data={"name": LIN, "legal_basis": "consent", "purpose": "cameras page test",
                                    "evidence": "form-e2e", "retention_days": "30"},
                              files={"image": ("lin.png", (EXAMPLES / "lin-manuel-miranda.png").read_bytes())})
        assert enrolled.status_code == 201, enrolled.text
        yield base, token
    finally:
        stop(process)


def _running(base: str, token: str) -> dict[str, dict]:
    body = httpx.get(f"{base}/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return {c["name"]: c for c in body["cameras"]}


def test_add_change_and_disable_a_camera_from_the_ui(server):
    from playwright.sync_api import expect

    base, token = server
    with open_page(timeout_ms=30_000) as page:
        page.goto(base + "/#/cameras")
        page.get_by_label("API key").fill(token)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#cameras-note")).to_contain_text("No cameras yet.")

        # add: a misspelt class gets config validate's message, next to the form; nothing is stored
        page.get_by_role("button", name="Add camera").click()
        form = page.locator("#camera-form")
        form.get_by_role("textbox", name=re.compile("^Name")).fill("stage")
        form.get_by_label("Source").fill(str(CLIP))
        form.get_by_label("Frames per second").fill("5")
        form.get_by_label("Objects").fill("persn")
        form.get_by_role("button", name="Add camera").click()
        expect(form.locator("#cam-problems")).to_contain_text("Objects: unknown object class 'persn' "
                                                               "(did you mean 'person'?)")
        assert _running(base, token) == {}

        form.get_by_label("Objects").fill("person")
        form.get_by_label("Recognise enrolled people").check()
        canvas = form.locator("#zone-canvas")
        box = canvas.bounding_box()
        for fx, fy in ((0.02, 0.02), (0.98, 0.02), (0.98, 0.98), (0.02, 0.98)):
            canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        expect(canvas).to_have_attribute("data-points", "4")
        form.get_by_label("Zone name").fill("floor")
        form.get_by_role("button", name="Close zone").click()
        expect(canvas).to_have_attribute("data-zones", "1")
        expect(form.locator("#zone-list")).to_contain_text("floor")
        form.get_by_role("button", name="Add camera").click()
        expect(page.locator("#camera-form")).to_have_count(0)

        # it runs at once, with no restart of the server, and its events reach the Events page
        card = page.locator('article[data-camera="stage"]')
        expect(card).to_contain_text("zones: floor")
        expect(card.locator("[data-status]")).to_have_text("finished", timeout=150_000)
        expect(card).to_contain_text("person_seen")
        page.get_by_role("link", name="Events").click()
        expect(page.locator('#events-table tbody tr[data-type="person_seen"]', has_text=LIN).first).to_be_visible()
        expect(page.locator('#events-table tbody tr[data-type="zone_enter"]').first).to_contain_text("floor")

        # review: the items of its tracks carry a frame strip (frames across the track, every face blurred)
        page.get_by_role("link", name="Review").click()
        strip = page.locator("#review-items article.review-item img.review-strip").first
        expect(strip).to_have_attribute("src", re.compile(r"^blob:"))
        page.wait_for_function("img => img.complete && img.naturalHeight === 180 && img.naturalWidth > 600",
                               arg=strip.element_handle())

        # change: the form shows the camera's picture; 60 fps restarts it, and it is warned as below target
        page.get_by_role("link", name="Cameras").click()
        page.get_by_role("button", name="Change stage").click()
        form = page.locator("#camera-form")
        expect(form.get_by_label("Source")).to_have_value(str(CLIP))
        expect(form.locator("#zone-list")).to_contain_text("floor")
        expect(form.locator("#zone-canvas")).to_have_attribute("data-picture", "frame")  # its latest frame
        assert page.eval_on_selector("#zone-canvas", "c => [c.width, c.height]") == [640, 360]
        page.evaluate("window.scrollTo(0, 0)")
        save_screenshot(page.screenshot(full_page=False), SCREENSHOT)
        assert SCREENSHOT.stat().st_size < 250_000
        # a second zone drawn with the keyboard only: arrows move the cross, Enter places a corner
        zone_canvas = form.locator("#zone-canvas")
        zone_canvas.focus()
        for keys in (["ArrowLeft"], ["ArrowUp"], ["ArrowRight", "ArrowRight"], ["ArrowDown", "ArrowDown"]):
            for key in keys:
                zone_canvas.press(key)
            zone_canvas.press("Enter")
        expect(zone_canvas).to_have_attribute("data-points", "4")
        form.get_by_label("Zone name").fill("door")
        form.get_by_role("button", name="Close zone").click()
        expect(zone_canvas).to_have_attribute("data-zones", "2")
        form.get_by_label("Frames per second").fill("60")
        form.get_by_role("button", name="Save changes").click()
        expect(card).to_contain_text("target 60.0")
        expect(card).to_contain_text("zones: door, floor")
        door = httpx.get(f"{base}/api/v1/cameras/stage/config", headers={"Authorization": f"Bearer {token}"}).json()
        assert door["zones"]["door"]["points"] == [[0.45, 0.5], [0.45, 0.45], [0.55, 0.45], [0.55, 0.55]]
        warning = card.locator("[data-warning]")
        expect(warning).to_contain_text(re.compile(r"below its target of 60 fps"), timeout=60_000)
        expect(page.locator("#cameras-note")).to_contain_text("Below target rate: stage")
        assert _running(base, token)["stage"]["fps_target"] == 60

        # disable: the worker stops and the card says so
        card.get_by_role("button", name="Disable stage").click()
        expect(card.locator("[data-status]")).to_have_text("disabled")
        expect(card.get_by_role("button", name="Enable stage")).to_be_visible()
        assert "stage" not in _running(base, token)
        expect(page.locator("#cameras-note")).to_contain_text("Disabled: stage")


def test_audit_page_names_enrolled_people_for_viewers_and_not_once_erased(server):
    """The audit rows hold ids only; the page shows the enrolled person's current name to a viewer key, and only
    the id (marked erased) once the person is erased."""
    from playwright.sync_api import expect

    base, token = server
    admin = {"Authorization": f"Bearer {token}"}
    viewer = httpx.post(f"{base}/api/v1/keys", headers=admin, json={"name": "audit-viewer", "role": "viewer"})
    assert viewer.status_code in (200, 201), viewer.text
    subject = next(s for s in httpx.get(f"{base}/api/v1/subjects", headers=admin).json()["items"] if s["name"] == LIN)
    raw = httpx.get(f"{base}/api/v1/audit", headers=admin, params={"subject_id": subject["id"]}).text
    assert LIN not in raw  # the log itself never names anyone
    with open_page(timeout_ms=30_000) as page:
        page.goto(base + "/#/audit")
        page.get_by_label("API key").fill(viewer.json()["token"])
        page.get_by_role("button", name="Log in").click()
        cell = page.locator(f'#audit-table td[data-subject="{subject["id"]}"]').first
        expect(cell).to_contain_text(LIN)
        expect(cell).to_contain_text(subject["id"][:12])
        assert httpx.delete(f"{base}/api/v1/subjects/{subject['id']}", headers=admin).status_code in (200, 204)
        page.reload()
        expect(cell).to_contain_text("(erased)")
        expect(page.locator("#audit-table")).not_to_contain_text(LIN)
