"""``/api/v1/plates`` on the real app (real models, real plate photos, SQLite): roles, reads, lists, errors."""

from __future__ import annotations

import io

from api_support import *  # noqa: F403
from api_support import auth
from plates_support import truth


def test_read_needs_operator_and_audits_list_hits(client, tokens):
    path, _box, plate = truth("eu", "test_002")
    data = path.read_bytes()
    assert client.post("/api/v1/plates/read", files={"image": ("car.jpg", data)},
                       headers=auth(tokens["viewer"])).status_code == 403
    body = {"list": "watch", "plate": plate, "legal_basis": "legitimate_interest", "purpose": "stolen vehicle",
            "retention_days": 30}
    assert client.post("/api/v1/plates/lists", json={**body, "legal_basis": "because"},
                       headers=auth(tokens["operator"])).status_code == 422
    created = client.post("/api/v1/plates/lists", json=body, headers=auth(tokens["operator"]))
    assert created.status_code == 201, created.text
    entry = created.json()
    response = client.post("/api/v1/plates/read", files={"image": ("car.jpg", data)},
                           headers=auth(tokens["operator"]))
    assert response.status_code == 200, response.text
    plates = response.json()["plates"]
    assert [p["text"] for p in plates] == [plate]
    assert plates[0]["list_hits"] == [{"entry_id": entry["id"], "list": "watch", "plate": plate, "match": "exact",
                                       "reason": None}]
    audit = client.get("/api/v1/audit", params={"action": "plate_list_hit"}, headers=auth(tokens["admin"])).json()
    assert any(r["subject_id"] == entry["id"] for r in audit["items"])

    lookup = client.post("/api/v1/plates/lookup", json={"plate": plate.replace("5", "S")},
                         headers=auth(tokens["operator"])).json()
    assert [(h["entry_id"], h["match"], h["reason"]) for h in lookup["hits"]] == [(entry["id"], "fuzzy", "confusable")]
    export = client.get(f"/api/v1/plates/lists/{entry['id']}/export", headers=auth(tokens["operator"]))
    assert export.status_code == 200 and export.json()["entry"]["plate"] == plate
    assert client.delete(f"/api/v1/plates/lists/{entry['id']}", headers=auth(tokens["operator"])).status_code == 403
    erased = client.delete(f"/api/v1/plates/lists/{entry['id']}", headers=auth(tokens["admin"]))
    assert erased.status_code == 200 and erased.json()["erased"] is True
    gone = client.get(f"/api/v1/plates/lists/{entry['id']}", headers=auth(tokens["operator"]))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "plate_entry_not_found"


def test_bad_input_is_a_clear_4xx(client, tokens):
    from PIL import Image

    headers = auth(tokens["operator"])
    junk = client.post("/api/v1/plates/read", files={"image": ("x.jpg", b"not an image")}, headers=headers)
    assert junk.status_code == 400 and junk.json()["error"]["code"] == "not_an_image"
    buffer = io.BytesIO()
    Image.new("L", (12_000, 12_000)).save(buffer, "PNG", optimize=True)
    bomb = client.post("/api/v1/plates/read", files={"image": ("bomb.png", buffer.getvalue())}, headers=headers)
    assert 400 <= bomb.status_code < 500 and bomb.json()["error"]["code"] == "too_large"
    region = client.post("/api/v1/plates/read", files={"image": ("car.jpg", truth("eu", "test_002")[0].read_bytes())},
                         data={"region": "mars"}, headers=headers)
    assert region.status_code == 422
    empty = client.post("/api/v1/plates/read", files={"image": ("face.jpg", image_bytes("obama.jpg"))},  # noqa: F405
                        headers=headers)
    assert empty.status_code == 200 and empty.json()["plates"] == []
