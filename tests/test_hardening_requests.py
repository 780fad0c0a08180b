"""Issue 8's smaller holes, through the real app (real models, SQLite): nested JSON, prohibited attributes,
a keyed /metrics, a busy decoder, and where the bootstrap key is shown."""

from __future__ import annotations

import json
import os
import threading

import pytest
from api_support import *  # noqa: F403
from api_support import auth, b64, image_bytes

from sightline.api.bootstrap import BOOTSTRAP_KEY_FILE, announce_admin_key
from sightline.api.log_redaction import redact_query
from sightline.vision.decode_gate import DecodeGate, decode_gate, set_decode_gate

CONSENT = {"name": "Ada Example", "legal_basis": "consent", "purpose": "building access for staff",
           "evidence": "form-2026-0099", "retention_days": "30"}


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [100, 5000, 100_000])
def test_deeply_nested_json_is_a_clear_400_on_every_body_route(client, tokens, depth):
    headers = {**auth(tokens["admin"]), "Content-Type": "application/json"}
    inner = _nested(depth)
    bodies = {"/api/v1/faces/identify": '{"k": ' + inner + ', "image": "' + b64(image_bytes("obama.jpg")) + '"}',
              "/api/v1/faces/detect": '{"image": ' + inner + "}",
              "/api/v1/subjects": '{"name": "x", "extra": ' + inner + "}",
              "/api/v1/keys": '{"name": "x", "role": ' + inner + "}"}
    for path, body in bodies.items():
        response = client.post(path, headers=headers, content=body)
        assert _error(response) == (400, "bad_json"), (path, response.text[:200])
        assert "nested too deeply" in response.json()["error"]["message"]


def test_moderately_nested_json_still_reaches_the_route(client, tokens):
    body = json.dumps({"name": "nested-ok", "role": "viewer"})
    response = client.post("/api/v1/keys", headers={**auth(tokens["admin"]), "Content-Type": "application/json"},
                           content=body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("attribute", ["age", "gender", "ethnicity", "emotion", "race", "box,age", "Skin-Tone"])
def test_prohibited_attributes_refused_on_identify_detect_and_subjects(client, tokens, attribute):
    photo = {"image": ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")}
    operator = auth(tokens["operator"])
    calls = [
        client.post("/api/v1/faces/identify", params={"attributes": attribute}, headers=operator, files=photo),
        client.post("/api/v1/faces/identify", headers=operator, files=photo, data={"attributes": attribute}),
        client.post("/api/v1/faces/detect", params={"attributes": attribute}, headers=operator, files=photo),
        client.post("/api/v1/faces/detect", headers=operator, files=photo, data={"attributes": attribute}),
        client.post("/api/v1/faces/detect", headers=operator,
                    json={"image": b64(image_bytes("obama.jpg")), "attributes": attribute.split(",")}),
        client.get("/api/v1/subjects", params={"attributes": attribute}, headers=operator),
        client.post("/api/v1/subjects", headers=operator, data={**CONSENT, "attributes": attribute}, files=photo),
    ]
    for response in calls:
        assert _error(response) == (403, "prohibited_use"), response.text
        assert "does not infer" in response.json()["error"]["message"]
    listed = client.get("/api/v1/subjects", params={"q": "Ada Example"}, headers=operator).json()
    assert listed["total"] == 0, "a refused enrolment keeps nothing"


def test_prohibited_keys_and_demographic_switches_on_any_route(client, tokens):
    viewer = auth(tokens["viewer"])
    for params in ({"estimate_age": "1"}, {"gender": "true"}, {"attributes[]": "race"}, {"reid_unknown": "yes"}):
        assert _error(client.get("/api/v1/audit", params=params, headers=viewer)) == (403, "prohibited_use")
    # a switched-off key and an allowed attribute pass; names may contain such words
    assert client.get("/api/v1/subjects", params={"age": "false"}, headers=viewer).status_code == 200
    assert client.get("/api/v1/subjects", params={"q": "Grace Race"}, headers=viewer).status_code == 200
    response = client.post("/api/v1/faces/detect", params={"attributes": "box"}, headers=viewer,
                           files={"image": ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")})
    assert response.status_code == 200, response.text


def test_metrics_needs_an_admin_key_or_the_scrape_token(api, client, tokens):
    assert _error(client.get("/metrics")) == (401, "unauthorized")
    assert _error(client.get("/metrics", headers=auth("sl_000000000000_nope"))) == (401, "unauthorized")
    assert _error(client.get("/metrics", headers=auth(tokens["viewer"]))) == (403, "forbidden")
    response = client.get("/metrics", headers=auth(tokens["admin"]))
    assert response.status_code == 200 and "sightline_http_requests_total" in response.text
    settings = api.state.sightline.settings
    settings.metrics_token = "scrape-secret-0123456789abcdef"
    try:
        assert client.get("/metrics", headers=auth("scrape-secret-0123456789abcdef")).status_code == 200
        assert client.get("/metrics", headers={"X-API-Key": "scrape-secret-0123456789abcdef"}).status_code == 200
        assert _error(client.get("/metrics", headers=auth("scrape-secret-wrong"))) == (401, "unauthorized")
    finally:
        settings.metrics_token = None


def test_metrics_can_be_opened_by_setting(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from sightline.api import ApiSettings, create_app
    from sightline.errors import ConfigError

    monkeypatch.setenv("SIGHTLINE_METRICS", "open")
    app = create_app(ApiSettings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 's.db'}"))
    try:
        shown = app.state.sightline.settings.public_dict()
        assert shown["metrics_access"] == "open" and shown["max_decode_bytes"] > 0 and shown["decode_wait_s"] >= 0
        assert TestClient(app).get("/metrics").status_code == 200
    finally:
        app.state.sightline.close()
    monkeypatch.setenv("SIGHTLINE_METRICS", "public-please")
    with pytest.raises(ConfigError):
        ApiSettings(home=tmp_path)


def test_busy_decoder_answers_503_with_retry_after(client, tokens):
    previous = decode_gate()
    gate = DecodeGate(budget_bytes=64 << 20, slots=1, wait_s=0.3)
    set_decode_gate(gate)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.reserve(1 << 20, "other"):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        response = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                               files={"image": ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")})
        assert _error(response) == (503, "server_busy"), response.text
        assert response.headers["retry-after"].isdigit()
    finally:
        release.set()
        holder.join()
        set_decode_gate(previous)
    assert gate.in_use == (0, 0)
    response = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                           files={"image": ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")})
    assert response.status_code == 200


def test_bootstrap_key_printed_on_a_terminal_only(api, tmp_path):
    new = api.state.sightline.keys.create("bootstrap-test", "admin", created_by="pytest")
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal:
        assert announce_admin_key(new, tmp_path, terminal) is None
    shown = os.read(primary, 4096).decode()
    os.close(primary)
    assert new.token in shown and not (tmp_path / BOOTSTRAP_KEY_FILE).exists()

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as captured:  # what a service manager or `> log` would capture
        path = announce_admin_key(new, tmp_path, captured)
    with os.fdopen(read_end) as pipe:
        logged = pipe.read()
    assert path == tmp_path / BOOTSTRAP_KEY_FILE and str(path) in logged
    assert new.token not in logged
    assert path.read_text().strip() == new.token and path.stat().st_mode & 0o777 == 0o600


def test_access_log_targets_keep_only_harmless_values():
    assert redact_query("/api/v1/subjects?q=Ana+Ruiz&limit=5") == "/api/v1/subjects?q=[redacted]&limit=5"
    assert redact_query("/api/v1/audit?actor=key%3Afront&since=2026-01-01") == \
        "/api/v1/audit?actor=[redacted]&since=2026-01-01"
    assert redact_query("/api/v1/subjects/abc") == "/api/v1/subjects/abc"
