"""API keys: roles, hashing, revocation, the CLI, and `sightline serve` on a fresh data folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from api_support import *  # noqa: F403
from api_support import MODELS, auth
from live_servers import free_port
from sqlalchemy import text


def _codes(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_whoami_per_role(client, tokens):
    for role, token in tokens.items():
        me = client.get("/api/v1/keys/me", headers=auth(token)).json()
        assert me["role"] == role and me["name"] == f"test-{role}" and "token" not in me and "digest" not in me


def test_only_admin_manages_keys(client, tokens):
    for role in ("operator", "viewer"):
        assert _codes(client.get("/api/v1/keys", headers=auth(tokens[role]))) == (403, "forbidden")
        assert _codes(client.post("/api/v1/keys", json={"name": "x", "role": "admin"},
                                  headers=auth(tokens[role]))) == (403, "forbidden")
    assert _codes(client.get("/api/v1/config", headers=auth(tokens["operator"]))) == (403, "forbidden")
    config = client.get("/api/v1/config", headers=auth(tokens["admin"])).json()
    assert config["settings"]["max_upload_bytes"] > 0 and "subjects" in config["gallery"]


def test_create_use_revoke(client, tokens, api):
    admin = auth(tokens["admin"])
    created = client.post("/api/v1/keys", json={"name": "camera-desk", "role": "viewer"}, headers=admin)
    assert created.status_code == 201
    token, key_id = created.json()["token"], created.json()["id"]
    assert re.fullmatch(r"sl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    assert client.get("/api/v1/subjects", headers=auth(token)).status_code == 200
    listed = client.get("/api/v1/keys", headers=admin).json()["items"]
    assert key_id in [k["id"] for k in listed] and all("token" not in k for k in listed)
    with api.state.sightline.db.connect() as connection:
        digest = connection.execute(text("SELECT digest FROM api_keys WHERE id = :id"), {"id": key_id}).scalar_one()
        dump = json.dumps([list(r) for r in connection.execute(text("SELECT * FROM api_keys"))], default=str)
    assert digest == hashlib.sha256(token.encode()).hexdigest() and token not in dump
    assert client.delete(f"/api/v1/keys/{key_id}", headers=admin).json()["active"] is False
    assert _codes(client.get("/api/v1/subjects", headers=auth(token))) == (401, "unauthorized")
    revoked = client.get("/api/v1/audit", params={"action": "keys.revoke"}, headers=admin).json()["items"]
    assert revoked[0]["details"]["key_id"] == key_id and revoked[0]["actor"].endswith("/test-admin")


def test_bad_key_requests(client, tokens):
    admin = auth(tokens["admin"])
    assert _codes(client.post("/api/v1/keys", json={"name": "x", "role": "root"}, headers=admin)) == (
        422, "validation_error")
    assert _codes(client.delete("/api/v1/keys/0123456789ab", headers=admin)) == (404, "not_found")
    assert _codes(client.delete("/api/v1/keys/not-hex", headers=admin)) == (422, "validation_error")


def test_last_admin_cannot_revoke_itself(client, tokens, api):
    admin = auth(tokens["admin"])
    others = [k for k in api.state.sightline.keys.list(include_revoked=False) if k.role == "admin"]
    me = client.get("/api/v1/keys/me", headers=admin).json()["id"]
    for key in others:
        if key.id != me:
            client.delete(f"/api/v1/keys/{key.id}", headers=admin)
    assert _codes(client.delete(f"/api/v1/keys/{me}", headers=admin)) == (409, "last_admin")


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIGHTLINE_HOME": str(home), "SIGHTLINE_MODELS": str(MODELS)}
    return subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_keys_create_list_revoke(tmp_path):
    created = _cli("keys", "create", "--role", "operator", "--name", "door", "--json", home=tmp_path)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["role"] == "operator" and key["token"].startswith(f"sl_{key['id']}_")
    listed = json.loads(_cli("keys", "list", "--json", home=tmp_path).stdout)["keys"]
    assert [k["id"] for k in listed] == [key["id"]] and "token" not in listed[0]
    assert _cli("keys", "revoke", key["id"], "--json", home=tmp_path).returncode == 0
    assert json.loads(_cli("keys", "list", "--json", home=tmp_path).stdout)["keys"][0]["active"] is False
    bad = _cli("keys", "create", "--role", "superuser", "--json", home=tmp_path)
    assert bad.returncode != 0 and json.loads(bad.stdout)["error"]["code"] == "bad_role"


def test_serve_on_a_fresh_home_hands_over_an_admin_key_once(tmp_path):
    """Its stdout is a pipe (as under a service manager), so the key goes to a 0600 file, not the output."""
    port = free_port()
    env = {**os.environ, "SIGHTLINE_MODELS": str(MODELS), "COLUMNS": "200"}
    command = [sys.executable, "-m", "sightline", "serve", "--home", str(tmp_path / "home"), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        key_file, output = None, []
        deadline = time.monotonic() + 90
        while key_file is None and time.monotonic() < deadline:
            output.append(server.stdout.readline())
            match = re.search(r"admin API key in (\S*bootstrap-admin-key)", output[-1])
            key_file = Path(match.group(1)) if match else None
        assert key_file, "serve did not say where the admin key is"
        token = key_file.read_text().strip()
        assert re.fullmatch(r"sl_[0-9a-f]{12}_[A-Za-z0-9_-]+", token) and token not in "".join(output)
        assert key_file.stat().st_mode & 0o777 == 0o600
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        me = httpx.get(f"{base}/api/v1/keys/me", headers=auth(token), timeout=10).json()
        assert me["role"] == "admin"
        assert httpx.get(f"{base}/", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    again = _cli("keys", "list", "--json", home=tmp_path / "home")
    assert len(json.loads(again.stdout)["keys"]) == 1  # a second start would not mint another
