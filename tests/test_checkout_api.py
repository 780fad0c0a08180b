"""Checkout (pay with your face) through the real API: real models, real clips of Lin-Manuel Miranda cut
from faces-small's Hamilton footage, his enrolment photo, SQLite in a temp folder.

The server fixes the challenge to ``turn_right`` (``SIGHTLINE_CHECKOUT_CHALLENGE``), the one thing a
recorded clip can perform: the live clip passes (1:1 and 1:N), his photo looped as video and the mirrored
clip (turning the other way) are declined, and every bad input gets a clear 4xx.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from api_support import EXAMPLES, MODELS, auth, no_face_jpeg
from checkout_media import CHALLENGE, build_clips, jpeg_frames

ENV = {"SIGHTLINE_CHECKOUT_CHALLENGE": CHALLENGE, "SIGHTLINE_CHECKOUT_EXPIRY_S": "12",
       "SIGHTLINE_CHECKOUT_TERMINAL_PER_MIN": "6", "SIGHTLINE_CHECKOUT_SUBJECT_PER_HOUR": "8",
       "SIGHTLINE_CHECKOUT_LOCKOUT_FAILURES": "3"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return build_clips(tmp_path_factory.mktemp("checkout-clips"))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from sightline.api import ApiSettings, create_app

    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    home = tmp_path_factory.mktemp("checkout-api")
    settings = ApiSettings(home=home, db_url=f"sqlite:///{home / 'sightline.db'}", models_dir=str(MODELS),
                           backend="auto", inference_threads=2)
    yield create_app(settings)
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keys(app):
    store = app.state.sightline.keys
    return {role: store.create(f"co-{role}", role, created_by="pytest").token
            for role in ("admin", "operator", "viewer", "terminal")}


@pytest.fixture(scope="module")
def people(client, keys):
    """Lin-Manuel Miranda and Alex Lacamoire enrolled for paying (consent, contract); Obama enrolled for a door
    (legitimate interest)."""
    ids = {}
    for name, photo, basis in (("Lin-Manuel Miranda", "lin-manuel-miranda.png", "consent"),
                               ("Alex Lacamoire", "alex-lacamoire.png", "contract"),
                               ("Joe Biden", "biden.jpg", "contract"),
                               ("Barack Obama", "obama.jpg", "legitimate_interest")):
        response = client.post("/api/v1/subjects", headers=auth(keys["operator"]),
                               data={"name": name, "legal_basis": basis, "purpose": "checkout test",
                                     "evidence": "FORM-1", "retention_days": "30"},
                               files=[("image", (photo, (EXAMPLES / photo).read_bytes()))])
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids


def _open(client, token, terminal, subject=None, status=201):
    body = {"terminal": terminal, "amount": 12.5}
    if subject:
        body["subject"] = subject
    response = client.post("/api/v1/checkout/sessions", headers=auth(token), json=body)
    assert response.status_code == status, response.text
    return response.json()


def _post_clip(client, token, opened, clip, *, started_ms=None, wait=True):
    if wait:
        time.sleep(2.5)  # the clip (4.2 s) must have been filmed after the session opened
    started = started_ms if started_ms is not None else time.time() * 1000 - 4300 + 2000  # end within the skew
    return client.post(f"/api/v1/checkout/sessions/{opened['session']}/frames", headers=auth(token),
                       data={"nonce": opened["challenge"]["nonce"], "started_at": str(started)},
                       files=[("clip", ("attempt.mp4", clip.read_bytes()))])


def _post_frames(client, token, opened, frames):
    now = time.time() * 1000
    stamps = ",".join(str(int(now - 10 * (len(frames) - i))) for i in range(len(frames)))
    return client.post(f"/api/v1/checkout/sessions/{opened['session']}/frames", headers=auth(token),
                       data={"nonce": opened["challenge"]["nonce"], "timestamps": stamps},
                       files=[("frame", (f"f{i}.jpg", data)) for i, data in enumerate(frames)])


def _audit(client, keys, session_id):
    rows = client.get("/api/v1/audit", headers=auth(keys["admin"]),
                      params={"action": "checkout.decision", "limit": 200}).json()["items"]
    return [r for r in rows if r["details"].get("session") == session_id]


def test_live_clip_pays_1_to_1_and_the_nonce_is_one_time(client, keys, people, clips, app):
    lin = people["Lin-Manuel Miranda"]
    opened = _open(client, keys["terminal"], "till-live", lin)
    assert opened["challenge"]["steps"] == [CHALLENGE] and opened["mode"] == "1:1"
    assert len(opened["challenge"]["nonce"]) >= 16
    home_files = {p for p in app.state.sightline.settings.home.rglob("*") if p.is_file()}
    decision = _post_clip(client, keys["terminal"], opened, clips["live"])
    assert decision.status_code == 200, decision.text
    body = decision.json()
    assert body["approved"] is True, body
    assert body["subject"] == {"id": lin, "name": "Lin-Manuel Miranda"}
    assert body["reasons"] == []
    assert body["liveness"]["challenge"]["passed"] is True and "turn_right" in body["liveness"]["challenge"]["seen"]
    assert body["liveness"]["passive"]["model"] == "minifasnet" and body["liveness"]["passive"]["is_live"] is True
    rows = _audit(client, keys, opened["session"])
    assert len(rows) == 1 and rows[0]["outcome"] == "approved" and rows[0]["subject_id"] == lin
    threshold = rows[0]["details"]["threshold"]  # the checkout point of the server's embedder, fused frames
    engine = app.state.sightline.engine
    assert threshold > engine.threshold and body["similarity"] >= threshold
    # no frame is kept: the data folder gained no file but the database's own
    new = {p for p in app.state.sightline.settings.home.rglob("*") if p.is_file()} - home_files
    assert all(p.name.startswith("sightline.db") or p.suffix in {".jsonl", ".hmac"} for p in new), new

    again = _post_clip(client, keys["terminal"], opened, clips["live"], wait=False)
    assert again.status_code == 409 and again.json()["error"]["code"] == "nonce_used", again.text


def test_live_clip_pays_1_to_n_among_payers_only(client, keys, people, clips):
    opened = _open(client, keys["terminal"], "till-1n")
    assert opened["mode"] == "1:N"
    body = _post_clip(client, keys["terminal"], opened, clips["live"]).json()
    assert body["approved"] is True and body["subject"]["name"] == "Lin-Manuel Miranda", body
    refused = _open(client, keys["terminal"], "till-1n", people["Barack Obama"], status=403)
    assert refused["error"]["code"] == "not_a_payer"


@pytest.mark.parametrize("attack, reason", [("still", "challenge not performed: no turn_right"),
                                            ("mirrored", "unexpected movement: turn_left")])
def test_photo_loop_and_wrong_movement_are_declined(client, keys, people, clips, attack, reason):
    opened = _open(client, keys["terminal"], f"till-{attack}", people["Lin-Manuel Miranda"])
    response = _post_clip(client, keys["terminal"], opened, clips[attack])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["approved"] is False and body["subject"] is None and body["similarity"] is None
    assert reason in body["reasons"], body
    row = _audit(client, keys, opened["session"])[0]
    assert row["outcome"] == "declined" and reason in row["details"]["reasons"]
    assert row["details"]["challenge_passed"] is False and "embedding" not in str(row["details"])


def test_a_recording_from_before_the_session_is_refused(client, keys, people, clips):
    opened = _open(client, keys["terminal"], "till-replay", people["Lin-Manuel Miranda"])
    earlier = time.time() * 1000 - 60_000
    response = _post_clip(client, keys["terminal"], opened, clips["live"], started_ms=earlier, wait=False)
    assert response.status_code == 422 and response.json()["error"]["code"] == "frames_before_session", response.text


@pytest.mark.parametrize("case, code", [("no_face", "no_face"), ("two_faces", "two_faces"),
                                        ("face_left", "face_left")])
def test_bad_pictures_get_a_clear_refusal(client, keys, people, clips, tmp_path, case, code):
    lin = jpeg_frames(clips["live"], tmp_path / "frames", fps=1.0)[:4]
    wall, pair = no_face_jpeg(), (EXAMPLES / "two_people.jpg").read_bytes()
    frames = {"no_face": [wall] * 3, "two_faces": [pair] * 3, "face_left": [lin[0], lin[1], wall, lin[2]]}[case]
    opened = _open(client, keys["terminal"], f"till-{case}")
    response = _post_frames(client, keys["terminal"], opened, frames)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code and len(error["message"]) > 20
    assert _audit(client, keys, opened["session"])[0]["outcome"] == "refused"


def test_expired_session_and_wrong_nonce(client, keys, people, clips):
    opened = _open(client, keys["terminal"], "till-expiry")
    wrong = dict(opened, challenge={**opened["challenge"], "nonce": "not-the-nonce"})
    bad = _post_clip(client, keys["terminal"], wrong, clips["live"], wait=False)
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "bad_nonce"
    time.sleep(12.5)
    late = _post_clip(client, keys["terminal"], opened, clips["live"], wait=False)
    assert late.status_code == 410 and late.json()["error"]["code"] == "session_expired", late.text


def test_key_roles(client, keys):
    viewer = client.post("/api/v1/checkout/sessions", headers=auth(keys["viewer"]), json={"terminal": "till"})
    assert viewer.status_code == 403 and "terminal" in viewer.json()["error"]["message"]
    for path in ("/api/v1/subjects", "/api/v1/audit", "/api/v1/keys/me"):
        denied = client.get(path, headers=auth(keys["terminal"]))
        assert denied.status_code == 403, (path, denied.text)
    identify = client.post("/api/v1/faces/identify", headers=auth(keys["terminal"]),
                           files=[("image", ("a.jpg", (EXAMPLES / "obama.jpg").read_bytes()))])
    assert identify.status_code == 403
    config = client.get("/api/v1/checkout/config", headers=auth(keys["terminal"]))
    assert config.status_code == 200 and config.json()["fixed_challenge"] is True
    other = _open(client, keys["operator"], "till-op")
    stolen = client.post(f"/api/v1/checkout/sessions/{other['session']}/frames", headers=auth(keys["terminal"]),
                         data={"nonce": other["challenge"]["nonce"], "timestamps": "1"},
                         files=[("frame", ("a.jpg", no_face_jpeg()))])
    assert stolen.status_code == 403 and stolen.json()["error"]["code"] == "wrong_terminal"


def test_bad_session_bodies_are_4xx(client, keys):
    for body in ({}, {"terminal": ""}, {"terminal": "till\u202e"}, {"terminal": "t", "amount": -1},
                 {"terminal": "t", "subject": "nobody-at-all"}):
        response = client.post("/api/v1/checkout/sessions", headers=auth(keys["terminal"]), json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
    missing = client.post("/api/v1/checkout/sessions/co_nope/frames", headers=auth(keys["terminal"]),
                          data={"nonce": "x"}, files=[("frame", ("a.jpg", no_face_jpeg()))])
    assert missing.status_code == 404


def test_rate_limits_and_lock_outs(client, keys, people, clips):
    for _ in range(6):
        _open(client, keys["terminal"], "till-busy")
    limited = _open(client, keys["terminal"], "till-busy", status=429)
    assert limited["error"]["code"] == "rate_limited"
    opens = client.get("/api/v1/audit", headers=auth(keys["admin"]),
                       params={"action": "checkout.open", "limit": 200}).json()["items"]
    assert any(r["outcome"] == "refused" and r["details"] == {"terminal": "till-busy", "code": "rate_limited"}
               for r in opens)
    alex = people["Alex Lacamoire"]
    wall = no_face_jpeg()
    for attempt in range(3):
        opened = _open(client, keys["terminal"], f"till-lock-{attempt}", alex)
        assert _post_frames(client, keys["terminal"], opened, [wall] * 3).status_code == 422
    locked = _open(client, keys["terminal"], "till-lock-9", alex, status=423)
    assert locked["error"]["code"] == "subject_locked"
    for _ in range(3):  # failures in a row on one till lock the till, whoever tries
        opened = _open(client, keys["terminal"], "till-tlock")
        assert _post_frames(client, keys["terminal"], opened, [wall] * 3).status_code == 422
    assert _open(client, keys["terminal"], "till-tlock", status=423)["error"]["code"] == "terminal_locked"
    biden = people["Joe Biden"]
    for index in range(8):  # each on its own till: only the subject's hourly limit can bite
        _open(client, keys["terminal"], f"till-biden-{index}", biden)
    assert _open(client, keys["terminal"], "till-biden-9", biden, status=429)["error"]["code"] == "rate_limited"


def test_sessions_are_exported_erased_and_swept(app, client, keys, people):
    from sightline.checkout.hooks import purge_sessions
    from sightline.store import checkout_repo

    gallery = app.state.sightline.gallery
    lin = people["Lin-Manuel Miranda"]
    bundle = gallery.export(lin, app.state.sightline.settings.home / "export")
    exported = json.loads((bundle / "subject.json").read_text())["related"]["checkout"]
    assert exported and all(s["claimed_subject"] == lin or s["subject_id"] == lin for s in exported)
    assert all("nonce" not in s for s in exported)
    with gallery.sessions() as session:
        assert checkout_repo.sessions_of_subject(session, lin)
    report = gallery.erase(lin, reason="request")
    assert report.subject_id == lin
    with gallery.sessions() as session:
        assert checkout_repo.sessions_of_subject(session, lin) == []
        remaining = checkout_repo.count_created(session, terminal="till-busy", since=datetime(2000, 1, 1, tzinfo=UTC))
    assert remaining == 6
    with gallery.sessions.begin() as session:
        assert purge_sessions(session, datetime.now(UTC) + timedelta(hours=23)) == 0
        assert purge_sessions(session, datetime.now(UTC) + timedelta(hours=25)) > 0
    with gallery.sessions() as session:
        assert checkout_repo.count_created(session, terminal="till-busy", since=datetime(2000, 1, 1, tzinfo=UTC)) == 0
