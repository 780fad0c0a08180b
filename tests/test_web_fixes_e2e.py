"""The web UI's rough edges, each checked in headless Debian Chromium against a real `sightline serve`.

Try it with a file that is not a photo, or a photo over the pixel limit, ends in plain words and clears
the previous result; the log-in page shows no menu; toasts stay on the page that raised them; results
read "Face 1: Name (score ≥ threshold)" without list numbers; at phone width (390 px) no page scrolls
sideways. Saves docs/phone.png.
"""

from __future__ import annotations

import re
import struct
import time
import zlib
from pathlib import Path

import httpx
import pytest
from api_support import EXAMPLES
from browser_support import open_page, read_admin_token, save_screenshot, start_serve, stop, wait_ready
from PIL import Image

PHONE_SHOT = Path(__file__).resolve().parents[1] / "docs" / "phone.png"
INTERNALS = re.compile(r"<bytes>|SIGHTLINE_|pixels, over|decompression|Traceback|\.txt:")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`sightline serve` on a fresh data folder with one enrolled subject; yields (base URL, admin token)."""
    process, base = start_serve(tmp_path_factory.mktemp("web-fixes-home"))
    try:
        deadline = time.monotonic() + 180
        token = read_admin_token(process, deadline)
        wait_ready(process, base, deadline)
        enrolled = httpx.post(f"{base}/api/v1/subjects", headers={"Authorization": f"Bearer {token}"},
                              data={"name": "Barack Obama", "legal_basis": "contract", "retention_days": "30",
                                    "purpose": "building access for the west wing staff, reviewed every quarter"},
                              files=[("image", ("obama.jpg", (EXAMPLES / "obama.jpg").read_bytes()))], timeout=120)
        assert enrolled.status_code == 201, enrolled.text
        yield base, token
    finally:
        stop(process)


@pytest.fixture(scope="module")
def page(server):
    with open_page() as page:
        yield page


def _log_in(page, base: str, token: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Subjects")).to_be_visible()


def _huge_png(path: Path, width: int = 9000, height: int = 6500) -> Path:
    """A real 1x1 PNG whose header claims width x height (what a decompression bomb looks like)."""
    with Image.new("RGB", (1, 1), "white") as image:
        image.save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


def test_login_page_shows_no_menu(server, page):
    from playwright.sync_api import expect

    base, token = server
    page.goto(base + "/")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    _log_in(page, base, token)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()


def test_try_it_results_and_failures_end_in_plain_words(server, page, tmp_path):
    from playwright.sync_api import expect

    base, token = server
    _log_in(page, base, token)
    page.get_by_role("link", name="Try it").click()
    status, results = page.locator("#try-status"), page.locator("#try-results li")
    page.get_by_label("Photo to analyse").set_input_files(str(EXAMPLES / "obama2.jpg"))
    expect(results).to_have_text(re.compile(r"^Face 1: Barack Obama \(0\.\d{3} ≥ 0\.\d{3}\)"))
    assert results.first.evaluate("li => getComputedStyle(li).listStyleType") == "none"  # no "1. Face 1:"
    expect(status).to_contain_text("1 face(s) found, 1 recognised")
    assert page.eval_on_selector("#try-canvas", "c => c.width") > 0

    # a text file: the server's "not an image" in plain words; the old photo and names are gone
    note = tmp_path / "notes.txt"
    note.write_text("not a photo at all\n" * 20)
    page.get_by_label("Photo to analyse").set_input_files(str(note))
    expect(status).to_have_text(re.compile(r"not a photo", re.I))
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(results).to_have_count(0)
    assert page.eval_on_selector("#try-canvas", "c => c.width") == 0
    assert not INTERNALS.search(status.inner_text())

    # a photo whose header claims 9000x6500: refused before the browser decodes it, in plain words
    page.get_by_label("Photo to analyse").set_input_files(str(EXAMPLES / "obama2.jpg"))
    expect(results).to_have_count(1)
    page.get_by_label("Photo to analyse").set_input_files(str(_huge_png(tmp_path / "huge.png")))
    expect(status).to_have_text(re.compile(r"9000 × 6500.*too large", re.I))
    expect(results).to_have_count(0)
    assert page.eval_on_selector("#try-canvas", "c => c.width") == 0
    assert not INTERNALS.search(status.inner_text())


def test_toast_stays_on_its_page(server, page):
    from playwright.sync_api import expect

    base, token = server
    _log_in(page, base, token)
    page.get_by_role("button", name="Export Barack Obama").click()  # a download, then a toast
    expect(page.locator("#toast")).to_contain_text("Export of Barack Obama downloaded")
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("#toast")).to_be_hidden()


def test_no_sideways_scroll_at_phone_width(server, page):
    from playwright.sync_api import expect

    base, token = server
    _log_in(page, base, token)
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        for name, heading in (("subjects", "Subjects"), ("try", "Try it"), ("verify", "Verify: same person?"),
                              ("review", "Review"), ("events", "Events"), ("cameras", "Cameras"),
                              ("audit", "Audit log")):
            page.goto(f"{base}/#/{name}")
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            if name == "subjects":
                expect(page.locator("#subjects-table tbody tr", has_text="Barack Obama")).to_have_count(1)
            if name == "audit":
                expect(page.locator("#audit-table tbody tr").first).to_be_visible()
            wide = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert wide[0] <= wide[1], f"{name}: the page is {wide[0]} px wide in a {wide[1]} px window"
        page.goto(f"{base}/#/subjects")
        expect(page.locator("#subjects-table tbody tr", has_text="Barack Obama")).to_have_count(1)
        save_screenshot(page.screenshot(full_page=False), PHONE_SHOT)
    finally:
        page.set_viewport_size({"width": 1100, "height": 760})
    assert PHONE_SHOT.stat().st_size < 150_000


ROUTINE = ("subjects.list", "events.list", "review.list", "audit.list", "audit.verify", "keys.list", "models.list")


def test_audit_page_logs_failed_logins_and_hides_routine_views(server, page):
    from playwright.sync_api import expect

    base, token = server
    page.goto(base + "/")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    bad = "sl_00000000abcd_" + "x" * 43
    page.get_by_label("API key").fill(bad)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    for _ in range(3):  # a burst from the same client folds into that one row (no flooding the chain)
        assert httpx.get(f"{base}/api/v1/keys/me", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    _log_in(page, base, token)
    page.get_by_role("link", name="Subjects").click()
    page.get_by_role("link", name="Audit").click()

    rows = page.locator("#audit-table tbody tr")
    failed = page.locator('#audit-table tbody tr[data-action="auth.failed"]')
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("unauthenticated")
    expect(failed).to_contain_text("denied")
    assert bad not in page.content()  # the key itself is never shown (nor logged)
    count = page.locator("#audit-count")
    expect(count).to_have_text(re.compile(r"^1–(\d+) of \1 \(\d+ routine page views? hidden\)$"))
    shown = int(re.match(r"1–(\d+)", count.inner_text()).group(1))
    assert rows.count() == shown  # the count is the table's
    for action in ROUTINE:
        expect(page.locator(f'#audit-table tbody tr[data-action="{action}"]')).to_have_count(0)

    page.get_by_label("Show routine page views").check()
    expect(page.locator('#audit-table tbody tr[data-action="subjects.list"]').first).to_be_visible()
    expect(count).to_have_text(re.compile(r"^1–(\d+) of \1$"))
    assert rows.count() > shown
    page.get_by_label("Show routine page views").uncheck()
    expect(page.locator('#audit-table tbody tr[data-action="subjects.list"]')).to_have_count(0)
