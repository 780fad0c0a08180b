"""The audit API and CLI on a real server (``sightline serve``, real uvicorn) and real processes.

Date filters at the ends of the calendar, verification limited per key and in all (429 with the
standard error shape), and the deleted-erasure attack caught by ``audit verify`` against a checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from live_servers import free_port
from sqlalchemy import text

from sightline.api.keys_store import KeyStore
from sightline.gallery.gallery import Gallery
from sightline.privacy.audit import row_hash

MODELS = Path(os.environ.get("SIGHTLINE_MODELS", Path(__file__).resolve().parents[2] / "shared" / "models"))
CHAIN_ROWS = 60_000  # enough that a verification lasts long enough for five to overlap


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIGHTLINE_HOME": str(home), "SIGHTLINE_MODELS": str(MODELS), "SIGHTLINE_ACTOR": "cli"}
    return subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server over a home with a long keyed chain, six viewer keys and an operator key."""
    home = tmp_path_factory.mktemp("audit-api")
    with Gallery.open(home, actor="setup") as gallery:
        with gallery.sessions.begin() as session:
            gallery.audit.append_many(session, ({"actor": "camera", "action": "identify", "outcome": "no_match",
                                                 "details": {"faces": i % 3}} for i in range(CHAIN_ROWS)))
        keys = KeyStore(gallery.sessions)
        viewers = [keys.create(f"viewer-{n}", "viewer", created_by="pytest").token for n in range(6)]
    port = free_port()
    env = {**os.environ, "SIGHTLINE_MODELS": str(MODELS)}
    proc = subprocess.Popen([sys.executable, "-m", "sightline", "serve", "--home", str(home), "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, proc.stderr.read()
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server not ready"
        time.sleep(0.3)
    yield {"base": base, "viewers": viewers, "home": home}
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def _get(server, path: str, token: str, **params) -> httpx.Response:
    return httpx.get(server["base"] + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=120)


async def _verify_at_once(server, tokens: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=server["base"], timeout=300,
                                 limits=httpx.Limits(max_connections=len(tokens))) as client:
        return await asyncio.gather(*(client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {t}"})
                                      for t in tokens))


def test_dates_at_the_ends_of_the_calendar_answer_correctly(server):
    viewer = server["viewers"][0]
    everything = _get(server, "/api/v1/audit", viewer, limit=1).json()["total"]
    assert everything > CHAIN_ROWS
    for params in ({"until": "9999-12-31"}, {"since": "0001-01-01T00:00:00+01:00"}, {"since": "0001-01-01"},
                   {"until": "9999-12-31T23:59:59-05:00"}):
        response = _get(server, "/api/v1/audit", viewer, limit=1, **params)
        assert response.status_code == 200, (params, response.text)
        assert response.json()["total"] >= everything, params
    for params in ({"since": "9999-12-31T23:00:00-05:00"}, {"until": "0001-01-01T00:30:00+01:00"}):
        response = _get(server, "/api/v1/audit", viewer, limit=1, **params)
        assert response.status_code == 200 and response.json()["total"] == 0, (params, response.text)
    bad = _get(server, "/api/v1/audit", viewer, until="9999-99-99")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


def test_the_fifth_concurrent_verify_gets_429(server):
    responses = asyncio.run(_verify_at_once(server, server["viewers"][:5]))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 200, 200, 429], [r.text[:200] for r in responses]
    refused = next(r for r in responses if r.status_code == 429).json()
    assert refused["error"]["code"] == "too_many_requests" and "retry" in refused["error"]["message"]
    assert all(r.json()["ok"] and r.json()["rows"] > CHAIN_ROWS for r in responses if r.status_code == 200)
    again = _get(server, "/api/v1/audit/verify", server["viewers"][4])  # slots are given back
    assert again.status_code == 200 and again.json()["ok"]


def test_one_key_may_run_only_two_verifies_at_once(server):
    responses = asyncio.run(_verify_at_once(server, [server["viewers"][5]] * 3))
    assert sorted(r.status_code for r in responses) == [200, 200, 429]
    assert "this key" in next(r for r in responses if r.status_code == 429).json()["error"]["message"]


def test_cli_checkpoint_then_the_deleted_erasure_is_named_by_verify(tmp_path):
    home = tmp_path / "home"
    with Gallery.open(home, actor="setup") as gallery:
        for action in ("subject_create", "enrol", "identify", "erase", "identify", "export", "identify"):
            gallery.audit.record(actor="op", action=action, subject_id="s1")
    written = _cli(home, "audit", "checkpoint", "--json")
    assert written.returncode == 0, written.stderr
    checkpoint = json.loads(written.stdout)["checkpoint"]
    assert checkpoint["seq"] == 8 and Path(json.loads(written.stdout)["file"]).is_relative_to(home)
    intact = _cli(home, "audit", "verify", "--json")
    assert intact.returncode == 0 and json.loads(intact.stdout)["checkpoint"]["seq"] == 8
    # The attack, with the plain sha256 anyone can compute: delete the erase row, renumber, recompute.
    with Gallery.open(home, actor="setup") as gallery, gallery.db.begin() as connection:
        rows = [dict(r) for r in connection.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings()]
        erase = next(r["seq"] for r in rows if r["action"] == "erase")
        connection.execute(text("DELETE FROM audit_log WHERE seq >= :s"), {"s": erase})
        prev = rows[erase - 2]["hash"]
        for seq, row in enumerate(rows[erase:], start=erase):
            digest = row_hash(seq, row["ts"], row["actor"], row["action"], row["subject_id"], row["outcome"],
                              row["details"], prev)
            connection.execute(text("INSERT INTO audit_log (seq, ts, actor, action, subject_id, outcome, details, "
                                    "prev_hash, hash) VALUES (:seq, :ts, :actor, :action, :subject_id, :outcome, "
                                    ":details, :prev, :hash)"), {**row, "seq": seq, "prev": prev, "hash": digest})
            prev = digest
    broken = _cli(home, "audit", "verify", "--json")
    assert broken.returncode == 12, broken.stdout + broken.stderr
    report = json.loads(broken.stdout)
    assert report["ok"] is False and report["first_bad_seq"] == erase and report["verified_through"] == erase - 1
    assert f"seq {erase}" in report["reason"]
    human = _cli(home, "audit", "verify")
    assert human.returncode == 12 and f"at seq {erase}" in human.stderr
    # Cutting the tail instead (no rewrite at all) is caught by the checkpoint.
    with Gallery.open(home, actor="setup") as gallery, gallery.db.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq >= :s"), {"s": erase})
    cut = json.loads(_cli(home, "audit", "verify", "--json").stdout)
    assert cut["ok"] is False and "removed from the end" in cut["reason"]
