"""Cameras added, changed, disabled and removed through the API of a real server (uvicorn on loopback, the real
camera service on the Hamilton clip), with no restart; validation is `config validate`'s; passwords never leave.

The server runs one YAML camera (a stream on a closed port, which never connects) so the YAML/UI merge rules are
exercised too: a UI camera cannot take its name, and it cannot be edited through the API.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
import yaml
from api_support import EXAMPLES, MODELS
from live_servers import free_port

from sightline.jobs.cameras import fps_warning
from sightline.privacy.audit import entry_to_dict
from sightline.store.tables import AuditEntry
from sightline.video.config import ConfigValidationError, parse_config

CLIP = EXAMPLES / "short_hamilton_clip.mp4"
PASSWORD = "s3cret-Pa55word"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, tokens, app, home) of a server started with one YAML camera."""
    import uvicorn

    from sightline.api import ApiSettings, create_app

    home = tmp_path_factory.mktemp("cameras-home")
    config = home / "cameras.yaml"
    config.write_text(yaml.safe_dump({"cameras": {"yard": {"url": f"rtsp://127.0.0.1:{free_port()}/live"}}}))
    settings = ApiSettings(home=home, db_url=f"sqlite:///{home / 'sightline.db'}", models_dir=str(MODELS),
                           backend="auto", inference_threads=2, cameras_config=config, retention_every_min=60)
    app = create_app(settings)
    keys = app.state.sightline.keys
    tokens = {role: keys.create(f"cams-{role}", role, created_by="pytest").token
              for role in ("admin", "operator", "viewer")}
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    try:
        yield base, tokens, app, home
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _cameras(base: str, token: str) -> dict:
    return httpx.get(f"{base}/api/v1/cameras", headers=auth(token), timeout=10).json()


def _wait(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_bad_settings_get_the_problems_config_validate_reports(served):
    base, tokens, _, _ = served
    body = {"name": "gate", "url": str(CLIP), "fps": 0, "classes": ["persn"], "colour": "red"}
    answer = httpx.post(f"{base}/api/v1/cameras", headers=auth(tokens["admin"]), json=body, timeout=30)
    assert answer.status_code == 422, answer.text
    problems = {(p["path"], p["message"]) for p in answer.json()["error"]["problems"]}
    with pytest.raises(ConfigValidationError) as whole_file:  # what `config validate` says of the same camera
        parse_config({"cameras": {"gate": {k: v for k, v in body.items() if k != "name"}}})
    assert problems == set(whole_file.value.problems)
    assert ("cameras.gate.fps", "must be > 0") in problems
    assert any(path == "cameras.gate.colour" for path, _ in problems)
    bad_name = httpx.post(f"{base}/api/v1/cameras", headers=auth(tokens["admin"]), timeout=30,
                          json={"name": "front door", "url": str(CLIP)})
    assert bad_name.status_code == 422 and "names must be" in bad_name.text
    refused = httpx.post(f"{base}/api/v1/cameras", headers=auth(tokens["admin"]), timeout=30,
                         json={"name": "gate", "url": str(CLIP), "estimate_age": True})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "prohibited_use"
    assert "gate" not in {c["name"] for c in _cameras(base, tokens["viewer"])["configured"]}
    # valid but probably not meant: saved, with config validate's warning
    missing = httpx.post(f"{base}/api/v1/cameras", headers=auth(tokens["admin"]), timeout=30,
                         json={"name": "lost", "url": "/nowhere/clip.mp4", "enabled": False})
    assert missing.status_code == 201, missing.text
    assert missing.json()["warnings"] == ["cameras.lost.url: file /nowhere/clip.mp4 does not exist"]
    assert httpx.delete(f"{base}/api/v1/cameras/lost", headers=auth(tokens["admin"])).status_code == 204


def test_only_admins_change_cameras_and_yaml_cameras_stay_read_only(served):
    base, tokens, _, _ = served
    body = {"name": "other", "url": str(CLIP)}
    for role in ("viewer", "operator"):
        assert httpx.post(f"{base}/api/v1/cameras", headers=auth(tokens[role]), json=body).status_code == 403
    taken = httpx.post(f"{base}/api/v1/cameras", headers=auth(tokens["admin"]), json={"name": "yard", "url": str(CLIP)})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "camera_exists"
    edit = httpx.put(f"{base}/api/v1/cameras/yard", headers=auth(tokens["admin"]), json={"url": str(CLIP)})
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "camera_read_only"
    assert httpx.delete(f"{base}/api/v1/cameras/nope", headers=auth(tokens["admin"])).status_code == 404
    listed = _cameras(base, tokens["viewer"])
    assert {c["name"]: c["source"] for c in listed["configured"]}["yard"] == "yaml"
    assert listed["editable"] is False and _cameras(base, tokens["admin"])["editable"] is True


def test_a_camera_added_runs_at_once_is_restarted_when_changed_and_stops_when_disabled(served):
    base, tokens, app, _ = served
    admin = auth(tokens["admin"])
    added = httpx.post(f"{base}/api/v1/cameras", headers=admin, timeout=30,
                       json={"name": "stage", "url": str(CLIP), "fps": 2, "classes": ["person"],
                             "zones": {"left": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}})
    assert added.status_code == 201, added.text
    assert added.json()["source"] == "ui" and added.json()["running"] is True

    def status() -> dict:
        return {c["name"]: c for c in _cameras(base, tokens["viewer"])["cameras"]}

    assert _wait(lambda: status().get("stage", {}).get("status") == "finished", 90), status().get("stage")
    first = status()["stage"]
    assert first["frames"] >= 10 and first["events"].get("track_start", 0) >= 1 and first["source"] == "ui"
    events = httpx.get(f"{base}/api/v1/events", headers=admin, params={"camera": "stage"}).json()["total"]
    assert events >= 1

    changed = httpx.put(f"{base}/api/v1/cameras/stage", headers=admin, timeout=30,
                        json={"url": str(CLIP), "fps": 3, "zones": {}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["fps"] == 3 and changed.json()["zones"] == {}
    assert changed.json()["classes"] == ["person"]  # not sent: kept
    assert _wait(lambda: status()["stage"]["fps_target"] == 3 and status()["stage"]["status"] == "finished", 90)
    assert status()["stage"]["frames"] > 0

    ended = threading.Event()

    def watch() -> None:  # a live view open on the camera while it is disabled
        with httpx.stream("GET", f"{base}/api/v1/cameras/stage/mjpeg", headers=admin, timeout=30) as response:
            assert response.status_code == 200
            for _ in response.iter_bytes():
                pass
        ended.set()

    viewer = threading.Thread(target=watch, daemon=True)
    viewer.start()
    assert _wait(lambda: _cameras(base, tokens["viewer"])["viewers"] == 1, 10)
    disabled = httpx.put(f"{base}/api/v1/cameras/stage", headers=admin, timeout=30,
                         json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    listed = _cameras(base, tokens["viewer"])
    assert "stage" not in {c["name"] for c in listed["cameras"]} and "stage" in listed["disabled"]
    assert "stage" not in app.state.cameras.workers
    assert ended.wait(10), "the live view of a disabled camera did not end"

    assert httpx.delete(f"{base}/api/v1/cameras/stage", headers=admin).status_code == 204
    assert "stage" not in {c["name"] for c in _cameras(base, tokens["viewer"])["configured"]}
    with app.state.sightline.sessions() as session:
        rows = [entry_to_dict(r) for r in session.query(AuditEntry).filter(AuditEntry.action.like("cameras.%"))]
    actions = [(r["action"], r["details"].get("camera")) for r in rows
               if r["action"] in ("cameras.create", "cameras.update", "cameras.delete")]
    assert [a for a in actions if a[1] == "stage"] == [("cameras.create", "stage"), ("cameras.update", "stage"),
                                                      ("cameras.update", "stage"), ("cameras.delete", "stage")]
    update = next(r for r in rows if r["action"] == "cameras.update")
    assert "fps" in update["details"]["changed"] and "zones" in update["details"]["changed"]


def test_a_source_password_is_never_shown_logged_or_stored_in_clear(served, caplog):
    base, tokens, app, home = served
    admin = auth(tokens["admin"])
    url = f"rtsp://viewer:{PASSWORD}@127.0.0.1:{free_port()}/stream?token=tok-{PASSWORD}"
    with caplog.at_level(logging.DEBUG):
        added = httpx.post(f"{base}/api/v1/cameras", headers=admin, timeout=30,
                           json={"name": "door", "url": url, "fps": 4})
        assert added.status_code == 201, added.text
        assert PASSWORD not in added.text and "viewer:***@" in added.json()["url"]
        assert "token=***" in added.json()["url"]
        shown = httpx.get(f"{base}/api/v1/cameras/door/config", headers=admin).json()
        # the form sends the masked URL back with another change: the secret is kept
        kept = httpx.put(f"{base}/api/v1/cameras/door", headers=admin, timeout=30,
                         json={"url": shown["url"], "fps": 2})
        assert kept.status_code == 200, kept.text
        _wait(lambda: _cameras(base, tokens["viewer"])["cameras"] != [], 5)
        listing = httpx.get(f"{base}/api/v1/cameras", headers=admin).text
        audit = httpx.get(f"{base}/api/v1/audit", headers=admin, params={"limit": 100}).text
    assert PASSWORD not in shown["url"] and PASSWORD not in listing and PASSWORD not in audit
    stored = app.state.jobs.manager.stored()["door"].config
    assert stored.url == url and stored.fps == 2  # the real secret survived the round trip through the form
    assert PASSWORD not in caplog.text
    for path in home.rglob("sightline.db*"):  # encrypted at rest
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert (home / "camera-secrets.key").stat().st_mode & 0o077 == 0
    assert httpx.delete(f"{base}/api/v1/cameras/door", headers=admin).status_code == 204


def test_fps_warning_only_below_the_target():
    row = {"status": "running", "frames": 40, "fps_average": 3.2, "fps_target": 5.0}
    assert "3.2 fps, below its target of 5 fps" in fps_warning(row)
    assert fps_warning({**row, "fps_average": 4.8}) is None
    assert fps_warning({**row, "frames": 3}) is None  # too early to tell
    assert fps_warning({**row, "status": "reconnecting"}) is None


def test_a_camera_whose_secret_key_was_replaced_is_skipped_not_fatal(tmp_path):
    """A lost or replaced camera-secrets.key: that camera is not started (a warning), the others load, and it
    can still be removed."""
    from sightline.gallery.gallery import Gallery
    from sightline.jobs import camera_store
    from sightline.jobs.camera_store import CameraSecrets
    from sightline.store import cameras_repo

    with Gallery.open(tmp_path / "home") as gallery:
        first = CameraSecrets(tmp_path / "a")
        with gallery.sessions.begin() as session:
            for name in ("gate", "yard"):
                config = camera_store.validate(name, {"url": f"rtsp://u:{PASSWORD}@10.0.0.5/{name}"})
                camera_store.save(session, first, name, config, {"url": config.url}, actor="pytest", new=True)
            config = camera_store.validate("door", {"url": "rtsp://10.0.0.6/door"})
            camera_store.save(session, CameraSecrets(tmp_path / "b"), "door", config, {"url": config.url},
                              actor="pytest", new=True)
        with gallery.sessions() as session:
            loaded = camera_store.load(session, first)
        assert sorted(loaded) == ["gate", "yard"]  # door was sealed under another key: skipped
        assert loaded["gate"].config.url == f"rtsp://u:{PASSWORD}@10.0.0.5/gate"
        with gallery.sessions.begin() as session:
            assert cameras_repo.delete_camera(session, "door")
