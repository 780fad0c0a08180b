"""Events and cameras through the real app, served by uvicorn on loopback with a real camera service.

The cameras: the Hamilton clip as a file camera (face recognition on, Lin-Manuel Miranda enrolled), an
RTSP URL on a closed port (never connects) and a corrupt file (fails, is restarted, gives up), so a
broken camera is shown next to a working one.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import cv2
import httpx
import numpy as np
import pytest
import yaml
from api_support import EXAMPLES, MODELS
from live_servers import free_port

from sightline.events.models import Event, EventType
from sightline.events.store import save_event
from sightline.privacy.audit import entry_to_dict
from sightline.store.tables import AuditEntry, Subject

CLIP = EXAMPLES / "short_hamilton_clip.mp4"
LIN = EXAMPLES / "lin-manuel-miranda.png"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory, engine):
    """(base URL, tokens, app, Lin's subject id) once the clip camera has finished."""
    import uvicorn

    from sightline.api import ApiSettings, create_app
    from sightline.gallery.gallery import Gallery

    home = tmp_path_factory.mktemp("events-home")
    db_url = f"sqlite:///{home / 'sightline.db'}"
    with Gallery.open(home, db_url, engine, create_key=True) as gallery:  # cameras start with the app
        lin = gallery.create_subject(name="Lin-Manuel Miranda", legal_basis="consent", purpose="events API test",
                                     evidence="form-7", retention_days=30, enrolled_by="pytest")
        gallery.enroll(str(lin["id"]), [LIN])
    junk = home / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).bytes(4000))
    config = home / "cameras.yaml"
    config.write_text(yaml.safe_dump({
        "cameras": {"stage": {"url": str(CLIP), "fps": 5, "face_recognition": {"enabled": True}},
                    "door": {"url": f"rtsp://127.0.0.1:{free_port()}/live"},
                    "broken": {"url": str(junk)}},
        "storage": {"snapshots": str(home / "snaps")},
    }))
    settings = ApiSettings(home=home, db_url=db_url, models_dir=str(MODELS), backend="auto", inference_threads=2,
                           cameras_config=config, retention_every_min=60)
    app = create_app(settings)
    keys = app.state.sightline.keys
    tokens = {role: keys.create(f"events-{role}", role, created_by="pytest").token
              for role in ("admin", "operator", "viewer")}
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                cams = httpx.get(f"{base}/api/v1/cameras", headers=auth(tokens["viewer"]), timeout=5).json()
                if {c["name"]: c["status"] for c in cams["cameras"]}.get("stage") in ("finished", "failed"):
                    break
            except (httpx.TransportError, KeyError):
                pass
            time.sleep(0.5)
        yield base, tokens, app, str(lin["id"])
    finally:
        server.should_exit = True
        thread.join(30)
    assert not thread.is_alive(), "the server did not stop"


def _cameras(served) -> dict[str, dict]:
    base, tokens, _, _ = served
    body = httpx.get(f"{base}/api/v1/cameras", headers=auth(tokens["viewer"]), timeout=10).json()
    return {c["name"]: c for c in body["cameras"]}


def test_cameras_report_status_and_a_broken_camera_does_not_stop_the_others(served):
    cams = _cameras(served)
    stage = cams["stage"]
    assert stage["status"] == "finished", stage
    assert stage["frames"] >= 40 and stage["fps_average"] > 0.5 and stage["frame_size"] == [640, 360]
    assert set(stage["stage_ms_per_frame"]) >= {"detect", "face", "identify"}
    assert stage["stage_ms_per_frame"]["detect"] > 0 and 0 <= stage["skipped_fraction"] <= 1
    assert stage["events"].get("person_seen", 0) >= 1
    door = cams["door"]
    assert door["status"] in ("connecting", "reconnecting", "failed") and door["frames"] == 0
    assert "refused" in (door["last_error"] or "").lower() or "no answer" in (door["last_error"] or "")
    broken = cams["broken"]
    assert broken["status"] in ("restarting", "failed") and broken["restarts"] >= 1
    assert "not a readable video" in broken["last_error"]


def test_events_are_listed_and_filtered(served):
    base, tokens, _, lin_id = served
    viewer = auth(tokens["viewer"])
    everything = httpx.get(f"{base}/api/v1/events", params={"camera": "stage", "limit": 500}, headers=viewer).json()
    assert everything["total"] == len(everything["items"]) >= 4
    assert "stage" in everything["facets"]["cameras"]
    assert {"id": lin_id, "name": "Lin-Manuel Miranda"} in everything["facets"]["subjects"]
    assert all("snapshot" not in e for e in everything["items"])  # server paths stay on the server
    seen = httpx.get(f"{base}/api/v1/events", params={"type": "person_seen"}, headers=viewer).json()
    assert seen["total"] >= 1
    assert {e["subject_name"] for e in seen["items"]} == {"Lin-Manuel Miranda"}
    assert {e["subject_id"] for e in seen["items"]} == {lin_id}
    by_person = httpx.get(f"{base}/api/v1/events", params={"subject_id": lin_id}, headers=viewer).json()
    assert by_person["total"] == seen["total"]
    two = httpx.get(f"{base}/api/v1/events", params={"type": "track_start,track_end", "label": "person"},
                    headers=viewer).json()
    assert two["total"] >= 2 and {e["type"] for e in two["items"]} == {"track_start", "track_end"}
    page = httpx.get(f"{base}/api/v1/events", params={"limit": 2, "offset": 1, "camera": "stage"},
                     headers=viewer).json()
    assert [e["id"] for e in page["items"]] == [e["id"] for e in everything["items"][1:3]]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert httpx.get(f"{base}/api/v1/events", params={"since": tomorrow}, headers=viewer).json()["total"] == 0
    assert httpx.get(f"{base}/api/v1/events", params={"camera": "elsewhere"}, headers=viewer).json()["total"] == 0
    bad = httpx.get(f"{base}/api/v1/events", params={"type": "teleport"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert httpx.get(f"{base}/api/v1/events", params={"since": "yesterday"}, headers=viewer).status_code == 422
    assert httpx.get(f"{base}/api/v1/events").status_code == 401
    one = seen["items"][0]
    assert httpx.get(f"{base}/api/v1/events/{one['id']}", headers=viewer).json() == one
    assert httpx.get(f"{base}/api/v1/events/nope", headers=viewer).json()["error"]["code"] == "not_found"


def test_snapshot_needs_the_operator_role_and_is_audited(served):
    base, tokens, app, lin_id = served
    seen = httpx.get(f"{base}/api/v1/events", params={"type": "person_seen"}, headers=auth(tokens["viewer"])).json()
    with_snapshot = [e for e in seen["items"] if e["snapshot_url"]]
    assert with_snapshot, seen
    url = base + with_snapshot[0]["snapshot_url"]
    denied = httpx.get(url, headers=auth(tokens["viewer"]))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    shown = httpx.get(url, headers=auth(tokens["operator"]))
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(shown.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (360, 640)
    rows = [entry_to_dict(r) for r in app.state.sightline.audit.tail(50, subject_id=lin_id)]
    assert any(r["action"] == "events.snapshot" and r["details"]["event_id"] == with_snapshot[0]["id"] for r in rows)
    no_snapshot = httpx.get(f"{base}/api/v1/events", params={"type": "track_start", "limit": 1},
                            headers=auth(tokens["viewer"])).json()["items"][0]
    assert no_snapshot["snapshot_url"] is None
    missing = httpx.get(f"{base}/api/v1/events/{no_snapshot['id']}/snapshot", headers=auth(tokens["operator"]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_snapshot"


def _last_frame_of_clip() -> np.ndarray:
    from sightline.video.sources import FrameSource

    last = None
    for frame in FrameSource(CLIP, fps=5).open():
        last = frame.image_bgr
    assert last is not None
    return last


def _sharpness(image: np.ndarray, box) -> float:
    x1, y1, x2, y2 = (max(0, int(v)) for v in box)
    return float(cv2.Laplacian(cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_latest_frame_is_a_jpeg_with_unknown_faces_blurred(served, engine):
    base, tokens, _, _ = served
    assert httpx.get(f"{base}/api/v1/cameras/stage/latest.jpg", headers=auth(tokens["viewer"])).status_code == 403
    response = httpx.get(f"{base}/api/v1/cameras/stage/latest.jpg", headers=auth(tokens["operator"]))
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    latest = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    raw = _last_frame_of_clip()  # the audience after the cut: nobody there is enrolled
    assert latest.shape == raw.shape
    faces = engine.detect_array(raw, embed=False)
    assert faces, "the test needs faces in the last frame"
    for face in faces:
        assert _sharpness(latest, face.box) < 0.3 * _sharpness(raw, face.box), f"sharp unknown face at {face.box}"
    nothing = httpx.get(f"{base}/api/v1/cameras/door/latest.jpg", headers=auth(tokens["operator"]))
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "no_frame"
    unknown = httpx.get(f"{base}/api/v1/cameras/nowhere/latest.jpg", headers=auth(tokens["operator"]))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "camera_not_found"


def test_mjpeg_streams_parts_without_blocking_and_ends_on_disconnect(served):
    base, tokens, _, _ = served
    url = f"{base}/api/v1/cameras/stage/mjpeg"
    assert httpx.get(url, headers=auth(tokens["viewer"])).status_code == 403
    parts: list[bytes] = []
    with httpx.stream("GET", url, headers=auth(tokens["operator"]), timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
        buffer, chunks = b"", response.iter_bytes()  # keep the iterator: dropping it closes the connection
        for chunk in chunks:
            buffer += chunk
            while (match := re.search(rb"--frame\r\n(.*?)\r\n\r\n", buffer, re.S)):
                length = int(re.search(rb"Content-Length: (\d+)", match.group(1)).group(1))
                if len(buffer) < match.end() + length:
                    break
                parts.append(buffer[match.end():match.end() + length])
                buffer = buffer[match.end() + length:]
            if len(parts) >= 2:
                break
        started = time.monotonic()
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0, "the stream blocks the event loop"
        assert _cameras_body(served)["viewers"] == 1
    assert all(p.startswith(b"\xff\xd8") and p.endswith(b"\xff\xd9") for p in parts)
    assert cv2.imdecode(np.frombuffer(parts[1], np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)
    deadline = time.monotonic() + 10
    while _cameras_body(served)["viewers"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _cameras_body(served)["viewers"] == 0, "the stream did not end when the client left"


def _cameras_body(served) -> dict:
    base, tokens, _, _ = served
    return httpx.get(f"{base}/api/v1/cameras", headers=auth(tokens["viewer"]), timeout=10).json()


def test_retention_scheduler_purges_old_events_and_erases_expired_subjects(served, tmp_path):
    base, tokens, app, _ = served
    service, state = app.state.cameras, app.state.sightline
    assert service.retention["runs"] >= 1  # the first run happens at start
    old_snapshot = service.snapshot_dir / "stage" / "2020-01-01" / "old.jpg"
    old_snapshot.parent.mkdir(parents=True, exist_ok=True)
    old_snapshot.write_bytes(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    old = Event(EventType.TRACK_END, "stage", "person", start_time=datetime.now(UTC) - timedelta(days=400),
                end_time=datetime.now(UTC) - timedelta(days=400), track_id=99, snapshot=str(old_snapshot))
    with state.sessions.begin() as session:
        save_event(session, old)
    viewer, operator = auth(tokens["viewer"]), auth(tokens["operator"])
    assert httpx.get(f"{base}/api/v1/events/{old.id}", headers=viewer).status_code == 200
    created = httpx.post(f"{base}/api/v1/subjects", headers=operator,
                         json={"name": "Short Stay", "legal_basis": "contract", "purpose": "one-day visitor pass",
                               "retention_days": 1})
    assert created.status_code == 201, created.text
    subject_id = created.json()["id"]
    with state.sessions.begin() as session:  # a day passes
        session.get(Subject, subject_id).retain_until = datetime.now(UTC) - timedelta(minutes=1)
    kept = httpx.get(f"{base}/api/v1/events", params={"camera": "stage"}, headers=viewer).json()["total"]

    report = service.retention_tick()

    assert report.subjects_erased == 1 and report.events["events_deleted"] == 1
    assert httpx.get(f"{base}/api/v1/events/{old.id}", headers=viewer).status_code == 404
    assert not old_snapshot.exists()
    assert httpx.get(f"{base}/api/v1/subjects/{subject_id}", headers=viewer).status_code == 404
    assert httpx.get(f"{base}/api/v1/events", params={"camera": "stage"}, headers=viewer).json()["total"] == kept - 1
    with state.sessions() as session:
        rows = [entry_to_dict(r) for r in session.query(AuditEntry).order_by(AuditEntry.seq.desc()).limit(20)]
    actions = {(r["action"], r["subject_id"], r["details"].get("reason")) for r in rows}
    assert ("erase", subject_id, "retention_expired") in actions
    assert any(a[0] == "retention_sweep" for a in actions) and any(a[0] == "events.retention" for a in actions)
    assert _cameras_body(served)["retention"]["runs"] >= 2


def test_failing_camera_is_restarted_with_backoff_and_stop_is_prompt(served, tmp_path):
    from sightline.video.config import parse_config
    from sightline.video.reconnect import Backoff
    from sightline.video.service import CameraService, ServiceOptions

    _, _, app, _ = served
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(2).bytes(4000))
    config = parse_config({"cameras": {"clip": {"url": str(CLIP), "fps": 5}, "junk": {"url": str(junk)}},
                           "storage": {"snapshots": str(tmp_path / "snaps")}})
    options = ServiceOptions(restart_backoff=Backoff(initial_s=0.1, factor=2.0, max_s=0.2), max_file_restarts=2,
                             retention_every_s=0)
    service = CameraService(config, app.state.sightline.gallery, options=options).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (service.workers["junk"].status.value != "failed"
                                               or service.workers["clip"].frames < 3):
            time.sleep(0.1)
        junk_status = service.workers["junk"].to_dict()
        assert junk_status["status"] == "failed" and junk_status["restarts"] == 3, junk_status
        assert service.workers["clip"].status.value == "running"  # the other camera kept going
    finally:
        started = time.monotonic()
        service.stop()
        took = time.monotonic() - started
    assert took < 3.0, f"stop took {took:.1f} s"
    assert not any(w.thread.is_alive() for w in service.workers.values())
    assert service.workers["clip"].status.value == "stopped"
    assert service.retention["runs"] == 0  # retention_every_s=0 turns the scheduler off
