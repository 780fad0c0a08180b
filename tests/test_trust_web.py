""""Not this person" in the web UI (headless Debian Chromium against a real `sightline serve`).

Try it: a real LFW look-alike (Yoko Ono) is named as the enrolled Sachiko Yamada by the yunet-dlib backend (the
server runs it: the default yunet-fused does not confuse the two, see tests/test_trust_negatives.py); one click on
"Not this person" and her next photo is unknown. Events: the button on a person_seen event records a
negative from the event's snapshot.
"""

from __future__ import annotations

import shutil
import time

import httpx
import pytest
from api_support import FACES
from browser_support import open_page, read_admin_token, start_serve, stop, wait_ready

from sightline import FaceEngine
from sightline.events.models import Event, EventType
from sightline.events.store import save_event
from sightline.gallery.gallery import Gallery

LFW = FACES.parent / "lfw" / "images"
SACHIKO = [LFW / "Sachiko_Yamada" / f"Sachiko_Yamada_000{n}.jpg" for n in (1, 2)]
YOKO = sorted((LFW / "Yoko_Ono").iterdir())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("trust-web-home")
    process, base = start_serve(home, "--backend", "yunet-dlib")
    try:
        deadline = time.monotonic() + 180
        token = read_admin_token(process, deadline)
        wait_ready(process, base, deadline)
        yield base, token, home
    finally:
        stop(process)


def _negatives(base: str, token: str, subject_id: str) -> int:
    shown = httpx.get(f"{base}/api/v1/subjects/{subject_id}", headers={"Authorization": f"Bearer {token}"})
    return shown.json()["negatives"]


def test_not_this_person_buttons(server, tmp_path):
    from playwright.sync_api import expect

    base, token, home = server
    enrolled = httpx.post(f"{base}/api/v1/subjects", headers={"Authorization": f"Bearer {token}"},
                          data={"name": "Sachiko Yamada", "legal_basis": "contract", "purpose": "ui test",
                                "retention_days": "30"},
                          files=[("image", (p.name, p.read_bytes())) for p in SACHIKO], timeout=120)
    assert enrolled.status_code == 201, enrolled.text
    subject_id = enrolled.json()["id"]
    snapshot = tmp_path / "seen.jpg"
    shutil.copy(YOKO[3], snapshot)
    event = Event(EventType.PERSON_SEEN, "door", "person", subject_id=subject_id, subject_name="Sachiko Yamada",
                  score=0.93, snapshot=str(snapshot))
    with Gallery.open(home, None, FaceEngine("yunet-dlib"), create_key=False) as gallery, \
            gallery.sessions.begin() as session:
        save_event(session, event)

    with open_page() as page:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(base + "/")
        page.get_by_label("API key").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Try it").click()
        page.get_by_label("Photo to analyse").set_input_files(str(YOKO[0]))
        named = page.locator("#try-results li", has_text="Sachiko Yamada")
        expect(named).to_have_count(1)
        named.locator("button.not-this-person").click()
        expect(named).to_contain_text("recorded: not this person")
        assert _negatives(base, token, subject_id) == 1
        page.get_by_label("Photo to analyse").set_input_files(str(YOKO[1]))
        expect(page.locator("#try-status")).to_contain_text("0 recognised")

        page.get_by_role("link", name="Events").click()
        row = page.locator(f'#events-table tbody tr[data-id="{event.id}"]')
        row.locator("button.not-this-person").click()
        expect(row).to_contain_text("recorded")
        assert _negatives(base, token, subject_id) == 2
