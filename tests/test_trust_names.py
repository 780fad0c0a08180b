"""Issue 8: subject and API-key names with NUL, bidi overrides, newlines or other control characters are
refused with a clear 4xx error (API), a clear error code (CLI, Python), and nothing is stored."""

from __future__ import annotations

import json

import pytest
from api_support import *  # noqa: F403
from api_support import auth
from typer.testing import CliRunner

from sightline.cli import app as cli_app
from sightline.errors import SightlineError
from sightline.gallery.gallery import Gallery

BAD_NAMES = {
    "nul": "Ann\x00Smith",
    "bidi override": "Ann \u202eevil.exe",
    "bidi isolate": "Ann \u2067Smith\u2069",
    "newline": "Ann\nSmith",
    "carriage return": "Ann\rforged log line",
    "escape": "Ann\x1b[31mred",
    "line separator": "Ann\u2028Smith",
}
FIELDS = {"legal_basis": "contract", "purpose": "name tests", "retention_days": 30}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_api_refuses_bad_subject_and_key_names(client, tokens, name):
    before = client.get("/api/v1/subjects", headers=auth(tokens["viewer"])).json()["total"]
    response = client.post("/api/v1/subjects", headers=auth(tokens["operator"]), json={**FIELDS, "name": name})
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_name" and "U+" in error["message"]
    assert client.get("/api/v1/subjects", headers=auth(tokens["viewer"])).json()["total"] == before
    key = client.post("/api/v1/keys", headers=auth(tokens["admin"]), json={"name": name, "role": "viewer"})
    assert key.status_code == 422 and "not allowed" in key.json()["error"]["message"]
    assert all(k["name"] != name for k in client.get("/api/v1/keys", headers=auth(tokens["admin"])).json()["items"])


def test_ordinary_names_with_accents_and_scripts_are_fine(client, tokens):
    for name in ("José Ñúñez-O'Brien", "李小龍", "محمد بن سلمان"):
        response = client.post("/api/v1/subjects", headers=auth(tokens["operator"]), json={**FIELDS, "name": name})
        assert response.status_code == 201, response.text
        assert client.delete(f"/api/v1/subjects/{response.json()['id']}", headers=auth(tokens["admin"])).status_code \
            == 200


def test_python_and_cli_refuse_bad_names(tmp_path, engine):
    with Gallery.open(tmp_path / "home", None, engine) as gallery:
        with pytest.raises(SightlineError) as refused:
            gallery.create_subject(name=BAD_NAMES["bidi override"], **FIELDS)
        assert refused.value.code == "invalid_name"
        assert gallery.list_subjects() == []
    result = CliRunner().invoke(cli_app, ["gallery", "enroll", str(tmp_path), "--name", BAD_NAMES["newline"],
                                          "--legal-basis", "contract", "--purpose", "door", "--retention-days", "3",
                                          "--json"], env={"SIGHTLINE_HOME": str(tmp_path / "home")})
    assert result.exit_code != 0
    assert json.loads(result.stdout)["error"]["code"] == "invalid_name"


def test_cli_refuses_bad_key_names(tmp_path):
    """``sightline keys create`` goes through the same check as the API (the key store refuses the name)."""
    env = {"SIGHTLINE_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli_app, ["keys", "create", "--role", "viewer", "--name", BAD_NAMES["newline"],
                                          "--json"], env=env)
    assert result.exit_code != 0
    assert json.loads(result.stdout)["error"]["code"] == "invalid_name"
    listed = CliRunner().invoke(cli_app, ["keys", "list", "--json"], env=env)
    assert BAD_NAMES["newline"] not in listed.stdout
