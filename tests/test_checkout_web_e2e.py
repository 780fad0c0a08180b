"""The Checkout page in headless Debian Chromium against a real `sightline serve`, the camera faked from
real footage (``--use-file-for-fake-video-capture``): Lin-Manuel Miranda turning his head (cut from the
Hamilton clip) pays; his enrolment photo looped as video and the mirrored clip (turning the wrong way)
are declined with the reason on screen.

The server fixes the challenge to ``turn_right`` (``SIGHTLINE_CHECKOUT_CHALLENGE``, meant for tests and
kiosk demos), since a recorded clip cannot follow a random one.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest
from api_support import EXAMPLES
from browser_support import (
    FAKE_CAMERA_ARGS,
    open_page,
    read_admin_token,
    save_screenshot,
    start_serve,
    stop,
    wait_ready,
)
from checkout_media import CHALLENGE, build_clips, to_y4m

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "checkout.png"
DECISION_MS = 120_000  # recording (4 s) + analysis on a shared, loaded machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`sightline serve` (challenge fixed to turn_right) with Lin-Manuel Miranda enrolled for paying;
    yields (base URL, terminal token, viewer token)."""
    saved = os.environ.get("SIGHTLINE_CHECKOUT_CHALLENGE")
    os.environ["SIGHTLINE_CHECKOUT_CHALLENGE"] = CHALLENGE
    try:
        process, base = start_serve(tmp_path_factory.mktemp("web-checkout-home"))
    finally:
        os.environ.pop("SIGHTLINE_CHECKOUT_CHALLENGE") if saved is None else os.environ.update(
            SIGHTLINE_CHECKOUT_CHALLENGE=saved)
    try:
        deadline = time.monotonic() + 180
        token = read_admin_token(process, deadline)
        wait_ready(process, base, deadline)
        auth = {"Authorization": f"Bearer {token}"}
        enrolled = httpx.post(f"{base}/api/v1/subjects", headers=auth,
                              data={"name": "Lin-Manuel Miranda", "legal_basis": "consent", "evidence": "FORM-7",
                                    "retention_days": "30", "purpose": "pay at the till"},
                              files=[("image", ("lin.png", (EXAMPLES / "lin-manuel-miranda.png").read_bytes()))],
                              timeout=120)
        assert enrolled.status_code == 201, enrolled.text
        terminal = httpx.post(f"{base}/api/v1/keys", headers=auth, json={"name": "till-1", "role": "terminal"})
        assert terminal.status_code == 201, terminal.text
        viewer = httpx.post(f"{base}/api/v1/keys", headers=auth, json={"name": "desk", "role": "viewer"})
        assert viewer.status_code == 201, viewer.text
        yield base, terminal.json()["token"], viewer.json()["token"]
    finally:
        stop(process)


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkout-y4m")
    clips = build_clips(folder)
    return {name: to_y4m(path, folder / f"{name}.y4m") for name, path in clips.items()}


def _pay(page, base: str, token: str, subject: str = "") -> None:
    from playwright.sync_api import expect

    page.goto(base + "/checkout.html")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Pay with your face")).to_be_visible()
    expect(page.locator("#co-policy")).to_contain_text("fixed by the server")
    page.get_by_label("Paying as").fill(subject)
    page.get_by_role("button", name="Pay with my face").click()
    expect(page.locator("#co-steps li").first).to_have_text("Turn your head to your right, then back")


def _camera(y4m: Path) -> list[str]:
    return [*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={y4m}"]


def test_a_live_clip_doing_the_challenge_pays(server, cameras):
    from playwright.sync_api import expect

    base, token, _ = server
    with open_page(extra_args=_camera(cameras["live"]), camera=True, timeout_ms=120_000) as page:
        _pay(page, base, token)
        expect(page.locator("#co-verdict")).to_have_text("Approved — Lin-Manuel Miranda", timeout=DECISION_MS)
        expect(page.locator("#co-result")).to_have_class(re.compile(r"\bapproved\b"))
        expect(page.locator("#co-reasons")).to_contain_text(re.compile(r"similarity 0\.\d{3}"))
        save_screenshot(page.screenshot(full_page=True), SCREENSHOT)


@pytest.mark.parametrize("attack, reason", [("still", "challenge not performed: no turn_right"),
                                            ("mirrored", "unexpected movement: turn_left")])
def test_a_photo_loop_and_the_wrong_movement_are_declined(server, cameras, attack, reason):
    from playwright.sync_api import expect

    base, token, _ = server
    with open_page(extra_args=_camera(cameras[attack]), camera=True, timeout_ms=120_000) as page:
        _pay(page, base, token, "Lin-Manuel Miranda")
        expect(page.locator("#co-verdict")).to_have_text("Declined", timeout=DECISION_MS)
        expect(page.locator("#co-result")).to_have_class(re.compile(r"\bdeclined\b"))
        expect(page.locator("#co-reasons")).to_contain_text(reason)


def test_a_viewer_key_cannot_run_the_checkout(server):
    from playwright.sync_api import expect

    base, _, viewer = server
    with open_page() as page:
        page.goto(base + "/checkout.html")
        page.evaluate("() => sessionStorage.clear()")
        page.reload()
        page.get_by_label("API key").fill(viewer)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#co-login-error")).to_have_text(re.compile("not allowed to run the checkout"))
        expect(page.get_by_role("heading", name="Pay with your face")).to_be_hidden()
