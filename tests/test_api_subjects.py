"""Subjects, identify, verify-against-subject, export, erase and the audit trail, through the real app."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from api_support import *  # noqa: F403
from api_support import auth, b64, image_bytes, no_face_jpeg

CONSENT = {"name": "Barack Obama", "legal_basis": "consent", "purpose": "building access for staff",
           "evidence": "form-2026-0042", "retention_days": "30"}


@pytest.fixture(scope="module")
def obama(client, tokens):
    """A subject enrolled through the API from one photo (multipart: consent fields + image)."""
    response = client.post("/api/v1/subjects", headers=auth(tokens["operator"]), data=CONSENT,
                           files={"image": ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")})
    assert response.status_code == 201, response.text
    return response.json()


def _codes(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_enrolment_needs_a_legal_basis(client, tokens):
    missing = client.post("/api/v1/subjects", headers=auth(tokens["operator"]),
                          json={"name": "Joe", "purpose": "door", "retention_days": 5})
    assert _codes(missing) == (422, "legal_basis_required")
    assert "legal basis is required" in missing.json()["error"]["message"]
    no_evidence = client.post("/api/v1/subjects", headers=auth(tokens["operator"]),
                              json={"name": "Joe", "legal_basis": "consent", "purpose": "door", "retention_days": 5})
    assert _codes(no_evidence) == (422, "legal_basis_required")
    past = client.post("/api/v1/subjects", headers=auth(tokens["operator"]),
                       json={"name": "Joe", "legal_basis": "contract", "purpose": "door", "retain_until": "2001-01-01"})
    assert _codes(past) == (422, "legal_basis_required")


def test_enrol_with_unusable_photo_keeps_nothing(client, tokens):
    before = client.get("/api/v1/subjects", headers=auth(tokens["viewer"])).json()["total"]
    response = client.post("/api/v1/subjects", headers=auth(tokens["operator"]),
                           json={**CONSENT, "name": "Nobody", "image": b64(no_face_jpeg())})
    assert _codes(response) == (422, "no_face")
    assert client.get("/api/v1/subjects", headers=auth(tokens["viewer"])).json()["total"] == before


def test_created_subject_has_consent_record_and_template(obama):
    assert obama["name"] == "Barack Obama" and obama["legal_basis"] == "consent"
    assert obama["evidence"] == "form-2026-0042" and obama["templates"] == 1
    assert obama["enrolment"][0]["accepted"] is True
    assert obama["enrolled_by"].startswith("key:")


def test_list_search_and_show(client, tokens, obama):
    viewer = auth(tokens["viewer"])
    found = client.get("/api/v1/subjects", params={"q": "obam"}, headers=viewer).json()
    assert [s["id"] for s in found["items"]] == [obama["id"]]
    assert client.get("/api/v1/subjects", params={"q": "zzz-nobody"}, headers=viewer).json()["total"] == 0
    by_prefix = client.get("/api/v1/subjects", params={"q": obama["id"][:6]}, headers=viewer).json()
    assert obama["id"] in [s["id"] for s in by_prefix["items"]]
    shown = client.get(f"/api/v1/subjects/{obama['id']}", headers=viewer).json()
    assert shown["templates"] == 1 and len(shown["template_list"]) == 1
    assert "embedding" not in json.dumps(shown)
    assert _codes(client.get("/api/v1/subjects/does-not-exist", headers=viewer)) == (404, "not_found")


def test_identify_finds_the_enrolled_person_and_not_others(client, tokens, obama):
    operator = auth(tokens["operator"])
    hit = client.post("/api/v1/faces/identify", headers=operator,
                      files={"image": ("obama2.jpg", image_bytes("obama2.jpg"))})
    assert hit.status_code == 200, hit.text
    face = hit.json()["results"][0]["faces"][0]
    assert face["decision"] == obama["id"] and face["name"] == "Barack Obama"
    assert face["score"] >= face["threshold"]
    miss = client.post("/api/v1/faces/identify", headers=operator, json={"image": b64(image_bytes("biden.jpg")),
                                                                         "k": 2})
    assert miss.json()["results"][0]["faces"][0]["decision"] == "unknown"


def test_identify_and_export_need_operator(client, tokens, obama):
    viewer = auth(tokens["viewer"])
    denied = client.post("/api/v1/faces/identify", headers=viewer, files={"image": ("a", image_bytes("obama2.jpg"))})
    assert _codes(denied) == (403, "forbidden")
    assert _codes(client.get(f"/api/v1/subjects/{obama['id']}/export", headers=viewer)) == (403, "forbidden")
    audit = client.get("/api/v1/audit", params={"action": "auth.denied"}, headers=viewer).json()
    assert any("test-viewer" in row["actor"] for row in audit["items"])


def test_verify_against_subject(client, tokens, obama):
    response = client.post("/api/v1/faces/verify", headers=auth(tokens["operator"]),
                           data={"subject_id": obama["id"]}, files={"image": ("o", image_bytes("obama2.jpg"))})
    assert response.status_code == 200, response.text
    assert response.json()["same_person"] is True and response.json()["subject_id"] == obama["id"]
    viewer = client.post("/api/v1/faces/verify", headers=auth(tokens["viewer"]),
                         data={"subject_id": obama["id"]}, files={"image": ("o", image_bytes("obama2.jpg"))})
    assert _codes(viewer) == (403, "forbidden")


def test_add_and_remove_faces(client, tokens, obama):
    operator = auth(tokens["operator"])
    added = client.post(f"/api/v1/subjects/{obama['id']}/faces", headers=operator,
                        files=[("image", ("o2.jpg", image_bytes("obama2.jpg"))), ("image", ("bg.jpg", no_face_jpeg()))])
    assert added.status_code == 201, added.text
    assert (added.json()["accepted"], added.json()["rejected"]) == (1, 1)
    template_id = next(r["template_id"] for r in added.json()["results"] if r["accepted"])
    removed = client.delete(f"/api/v1/subjects/{obama['id']}/faces/{template_id}", headers=operator)
    assert removed.status_code == 200
    again = client.delete(f"/api/v1/subjects/{obama['id']}/faces/{template_id}", headers=operator)
    assert _codes(again) == (404, "not_found")
    shown = client.get(f"/api/v1/subjects/{obama['id']}", headers=operator).json()
    assert shown["templates"] == 1


def test_export_zip(client, tokens, obama):
    response = client.get(f"/api/v1/subjects/{obama['id']}/export", headers=auth(tokens["operator"]))
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("subject.json"))
        document = json.loads(archive.read(name))
    assert document["subject"]["id"] == obama["id"] and document["templates_included"] is False
    assert any(row["action"] == "enrol" for row in document["audit"])


def test_erase_is_admin_only_and_complete(client, tokens):
    operator, admin = auth(tokens["operator"]), auth(tokens["admin"])
    created = client.post("/api/v1/subjects", headers=operator,
                          json={**CONSENT, "name": "Lin-Manuel Miranda",
                                "image": [b64(image_bytes("lin-manuel-miranda.png"))]}).json()
    subject_id = created["id"]
    probe = {"image": ("l", image_bytes("lin-manuel-miranda.png"))}
    assert client.post("/api/v1/faces/identify", headers=operator, files=probe).json()[
        "results"][0]["faces"][0]["decision"] == subject_id
    assert _codes(client.delete(f"/api/v1/subjects/{subject_id}", headers=operator)) == (403, "forbidden")
    erased = client.delete(f"/api/v1/subjects/{subject_id}", headers=admin)
    assert erased.status_code == 200 and erased.json()["templates"] == 1 and erased.json()["index_entries"] == 1
    after = client.post("/api/v1/faces/identify", headers=operator, files=probe).json()
    assert after["results"][0]["faces"][0]["decision"] == "unknown"
    assert _codes(client.get(f"/api/v1/subjects/{subject_id}", headers=admin)) == (404, "not_found")


def test_audit_attributes_every_action_and_chain_verifies(client, tokens, obama):
    viewer = auth(tokens["viewer"])
    rows = client.get("/api/v1/audit", params={"limit": 1000}, headers=viewer).json()
    actions = {row["action"] for row in rows["items"]}
    assert {"subject_create", "enrol", "identify", "verify", "export", "erase", "subjects.list"} <= actions
    assert all(row["actor"] for row in rows["items"])
    by_operator = client.get("/api/v1/audit", params={"actor": "test-operator", "action": "identify"},
                             headers=viewer).json()
    assert by_operator["total"] >= 2 and all(r["actor"].endswith("/test-operator") for r in by_operator["items"])
    today = rows["items"][0]["ts"][:10]
    assert client.get("/api/v1/audit", params={"since": today, "until": today}, headers=viewer).json()["total"] > 0
    assert client.get("/api/v1/audit", params={"until": "2000-01-01"}, headers=viewer).json()["total"] == 0
    assert client.get("/api/v1/audit", params={"since": "yesterday"}, headers=viewer).status_code == 422
    chain = client.get("/api/v1/audit/verify", headers=viewer).json()
    assert chain["ok"] is True and chain["rows"] >= rows["total"]


def test_removing_a_face_leaves_no_ciphertext_in_the_database_files(api, client, tokens):
    """Template removal goes through the gallery like an erasure: deleted, out of the index, WAL folded back."""
    from pathlib import Path

    from sightline.store.tables import Template

    operator = auth(tokens["operator"])
    created = client.post("/api/v1/subjects", headers=operator,
                          json={**CONSENT, "name": "Removal Test", "image": [b64(image_bytes("obama.jpg"))]}).json()
    added = client.post(f"/api/v1/subjects/{created['id']}/faces", headers=operator,
                        files={"image": ("o2.jpg", image_bytes("obama2.jpg"))}).json()
    template_id = added["results"][0]["template_id"]
    gallery = api.state.sightline.gallery
    with gallery.sessions() as session:
        secret = session.get(Template, template_id).ciphertext
    assert template_id in gallery.index
    removed = client.delete(f"/api/v1/subjects/{created['id']}/faces/{template_id}", headers=operator)
    assert removed.status_code == 200 and removed.json()["index_entries"] == 1
    assert template_id not in gallery.index
    database = Path(gallery.db.url.database)
    raw = b"".join(p.read_bytes() for p in (database, Path(f"{database}-wal")) if p.exists())
    assert secret[:32] not in raw and secret[-32:] not in raw
    client.delete(f"/api/v1/subjects/{created['id']}", headers=auth(tokens["admin"]))
