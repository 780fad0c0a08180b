"""Subjects page in headless Debian Chromium against a real `sightline serve`: each added photo is checked
against the enrolment gate before submit, a multi-photo enrolment shows its progress, the stored photos
appear as thumbnails of their templates, and one template can be removed."""

from __future__ import annotations

import time

import pytest
from api_support import EXAMPLES, no_face_jpeg
from browser_support import open_page, read_admin_token, start_serve, stop, wait_ready


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process, base = start_serve(tmp_path_factory.mktemp("web-subjects-home"))
    try:
        deadline = time.monotonic() + 180
        token = read_admin_token(process, deadline)
        wait_ready(process, base, deadline)
        yield base, token
    finally:
        stop(process)


def test_photo_checks_progress_thumbnails_and_removing_one(server, tmp_path):
    from playwright.sync_api import expect

    base, token = server
    wall = tmp_path / "wall.jpg"
    wall.write_bytes(no_face_jpeg())
    with open_page() as page:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(base + "/")
        page.get_by_label("API key").fill(token)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Subjects")).to_be_visible()

        page.get_by_label("Name").fill("Barack Obama")
        page.get_by_label("Legal basis").select_option("contract")
        page.get_by_label("Purpose").fill("staff building access")
        page.get_by_label("Retention (days)").fill("90")
        page.get_by_label("Keep the photos").check()
        photos = [EXAMPLES / "obama.jpg", EXAMPLES / "two_people.jpg", wall, EXAMPLES / "obama2.jpg"]
        page.set_input_files("#enrol-files", [str(p) for p in photos])
        checks = page.locator("#enrol-photos li .check")
        expect(checks).to_have_count(4)
        expect(page.locator('#enrol-photos li[data-name="obama.jpg"] .check')).to_have_text("✔ face found")
        expect(page.locator('#enrol-photos li[data-name="obama2.jpg"] .check')).to_have_text("✔ face found")
        expect(page.locator('#enrol-photos li[data-name="two_people.jpg"] .check')).to_have_text(
            "✖ several faces: use a photo of this person alone")
        expect(page.locator('#enrol-photos li[data-name="wall.jpg"] .check')).to_have_text("✖ no face found")

        page.evaluate("""() => { window.progressSeen = [];
            new MutationObserver(() => window.progressSeen.push(document.getElementById('enrol-progress').value))
              .observe(document.getElementById('enrol-progress'), { attributes: true }); }""")
        page.get_by_role("button", name="Enrol", exact=True).click()
        status = page.locator("#enrol-status")
        expect(status).to_contain_text("Barack Obama enrolled with 2 template(s); 2 photo(s) rejected")
        expect(status).to_contain_text("two_people.jpg: several faces")
        expect(status).to_contain_text("wall.jpg: no face found")
        seen = page.evaluate("() => window.progressSeen")
        assert {1, 2, 3, 4} <= set(seen), seen  # one step per photo
        expect(page.locator("#enrol-progress")).to_be_hidden()

        row = page.locator("#subjects-table tbody tr", has_text="Barack Obama")
        expect(row.locator("td").nth(4)).to_have_text("2")
        page.get_by_role("button", name="Photos of Barack Obama").click()
        figures = page.locator("tr.templates-row figure.template")
        expect(figures).to_have_count(2)
        for index in range(2):
            thumb = figures.nth(index).locator("img")
            page.wait_for_function("img => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 192",
                                   arg=thumb.element_handle())
        page.get_by_role("button", name="Remove template 2 of Barack Obama").click()
        expect(figures).to_have_count(1)
        expect(row.locator("td").nth(4)).to_have_text("1")
