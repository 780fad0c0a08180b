"""The Verify page (1:1) in headless Debian Chromium against a real `sightline serve`.

Two photos of Obama read "Same person — similarity …, needs …"; Obama and Biden "Not the same person";
a photo against the enrolled Barack Obama names him; a photo with no face says which photo and why in
plain words; a viewer key sees only the two-photo comparison.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from api_support import EXAMPLES, no_face_jpeg
from browser_support import open_page, read_admin_token, save_screenshot, start_serve, stop, wait_ready

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "verify.png"
VERDICT = r"— similarity (0\.\d\d|-?0\.\d\d|1\.00), needs 0\.\d\d$"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`sightline serve` with Barack Obama enrolled; yields (base URL, admin token, viewer token)."""
    process, base = start_serve(tmp_path_factory.mktemp("web-verify-home"))
    try:
        deadline = time.monotonic() + 180
        token = read_admin_token(process, deadline)
        wait_ready(process, base, deadline)
        auth = {"Authorization": f"Bearer {token}"}
        enrolled = httpx.post(f"{base}/api/v1/subjects", headers=auth,
                              data={"name": "Barack Obama", "legal_basis": "contract", "retention_days": "30",
                                    "purpose": "verify page test"},
                              files=[("image", ("obama.jpg", (EXAMPLES / "obama.jpg").read_bytes()))], timeout=120)
        assert enrolled.status_code == 201, enrolled.text
        viewer = httpx.post(f"{base}/api/v1/keys", headers=auth, json={"name": "desk", "role": "viewer"})
        assert viewer.status_code == 201, viewer.text
        yield base, token, viewer.json()["token"]
    finally:
        stop(process)


def _log_in(page, base: str, token: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Subjects")).to_be_visible()


def test_verify_two_photos_and_a_photo_against_a_subject(server, tmp_path):
    from playwright.sync_api import expect

    base, token, viewer = server
    blank = tmp_path / "wall.jpg"
    blank.write_bytes(no_face_jpeg())
    with open_page() as page:
        _log_in(page, base, token)
        page.get_by_role("link", name="Verify").click()
        verdict, status = page.locator("#verify-verdict"), page.locator("#verify-status")

        page.get_by_label("First photo").set_input_files(str(EXAMPLES / "obama.jpg"))
        page.get_by_label("Second photo").set_input_files(str(EXAMPLES / "obama2.jpg"))
        expect(page.locator("#verify-b-preview")).to_be_visible()
        page.get_by_role("button", name="Compare").click()
        expect(verdict).to_have_text(re.compile("^Same person " + VERDICT))
        expect(verdict).to_have_class(re.compile(r"\bsame\b"))
        same, needs = map(float, re.findall(r"-?\d\.\d\d", verdict.inner_text()))
        assert same >= needs

        page.get_by_label("Second photo").set_input_files(str(EXAMPLES / "biden.jpg"))
        expect(verdict).to_be_hidden()  # a new photo clears the old answer
        page.get_by_role("button", name="Compare").click()
        expect(verdict).to_have_text(re.compile("^Not the same person " + VERDICT))
        different, needs = map(float, re.findall(r"-?\d\.\d\d", verdict.inner_text()))
        assert different < needs

        page.get_by_label("Second photo").set_input_files(str(blank))
        page.get_by_role("button", name="Compare").click()
        expect(status).to_have_text("Second photo: No face was found in that photo.")
        expect(verdict).to_be_hidden()

        page.get_by_label("a photo with an enrolled person").check()
        expect(page.get_by_label("Second photo")).to_be_hidden()
        page.get_by_label("Enrolled person", exact=True).select_option(label="Barack Obama")
        page.get_by_label("Photo", exact=True).set_input_files(str(EXAMPLES / "obama2.jpg"))
        page.get_by_role("button", name="Compare").click()
        expect(verdict).to_have_text(re.compile("^This is Barack Obama " + VERDICT))
        expect(status).to_contain_text("1 stored template(s) of Barack Obama")
        save_screenshot(page.screenshot(full_page=False), SCREENSHOT)

        _log_in(page, base, viewer)  # a viewer compares two photos; the gallery stays out of reach
        page.get_by_role("link", name="Verify").click()
        expect(page.get_by_label("First photo")).to_be_visible()
        expect(page.get_by_label("a photo with an enrolled person")).to_be_hidden()
