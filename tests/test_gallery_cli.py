"""The gallery, audit and privacy commands end to end, and enrolment surviving SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sightline.cli import app
from sightline.gallery.gallery import Gallery
from sightline.store.tables import AuditEntry, Template

runner = CliRunner()
ENROL_FLAGS = ["--legal-basis", "contract", "--purpose", "staff door access", "--retention-days", "30"]


def cli(home: Path, *args: str, code: int = 0) -> dict:
    result = runner.invoke(app, [*args, "--json"], env={"SIGHTLINE_HOME": str(home), "SIGHTLINE_ACTOR": "cli-test"})
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_cli_flow(tmp_path, faces_dir):
    home = tmp_path / "home"
    knn = faces_dir / "examples" / "knn_examples"
    info = cli(home, "init")
    assert info["subjects"] == 0 and (home / "keys" / f"{info['key_id']}.key").exists()
    assert info["admin_key"].startswith("sl_"), "init prints a bootstrap admin key once"
    assert cli(home, "init")["admin_key"] is None, "and never again"

    refused = cli(home, "gallery", "enroll", str(knn / "train" / "obama"), "--name", "Barack Obama", code=8)
    assert refused["error"]["code"] == "legal_basis_required" and "legal basis" in refused["error"]["message"]

    enrolled = cli(home, "gallery", "enroll", str(knn / "train" / "obama"), "--name", "Barack Obama", *ENROL_FLAGS,
                   "--store-images")
    assert enrolled["accepted"] == 2 and enrolled["rejected"] == 0
    subject_id = enrolled["subject_id"]
    rejected = cli(home, "gallery", "enroll", str(faces_dir / "examples" / "two_people.jpg"), "--subject",
                   subject_id[:8], code=4)
    assert rejected["error"]["code"] == "several_faces"

    found = cli(home, "identify", str(knn / "test" / "obama_and_biden.jpg"), str(knn / "test" / "obama1.jpg"))
    decisions = [[f["decision"] for f in r["faces"]] for r in found["results"]]
    assert decisions[0].count(subject_id) == 1 and decisions[0].count("unknown") == len(decisions[0]) - 1
    assert decisions[1] == [subject_id]

    listed = cli(home, "gallery", "list")["subjects"]
    assert [(s["name"], s["templates"], s["images"]) for s in listed] == [("Barack Obama", 2, 2)]
    shown = cli(home, "gallery", "show", "Barack Obama")
    assert shown["legal_basis"] == "contract" and len(shown["template_list"]) == 2
    assert "embedding" not in json.dumps(shown)

    bundle = cli(home, "gallery", "export", subject_id, "--out", str(tmp_path / "sar"))
    assert sorted(bundle["files"]) == ["images/1.jpg", "images/2.jpg", "subject.json"]

    tail = cli(home, "audit", "tail", "-n", "3")["entries"]
    assert [e["action"] for e in tail] == ["identify", "identify", "export"]
    assert all(e["actor"] == "cli-test" for e in tail)
    assert cli(home, "audit", "verify")["ok"] is True

    erased = cli(home, "gallery", "erase", subject_id, "--yes", "--reason", "left the company")
    assert (erased["templates"], erased["images"]) == (2, 2)
    assert cli(home, "gallery", "list")["subjects"] == []
    assert cli(home, "gallery", "show", subject_id, code=9)["error"]["code"] == "not_found"

    with sqlite3.connect(home / "sightline.db") as connection:  # tamper with the log behind Sightline's back
        connection.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
    broken = cli(home, "audit", "verify", code=12)
    assert broken["ok"] is False and broken["first_bad_seq"] == 3


def test_cli_sweep_and_rotate(tmp_path, faces_dir):
    home = tmp_path / "home"
    knn = faces_dir / "examples" / "knn_examples"
    short = cli(home, "gallery", "enroll", str(knn / "train" / "biden" / "biden.jpg"), "--name", "Visitor",
                "--legal-basis", "legitimate_interest", "--purpose", "visitor badge", "--retention-days", "1")
    keep = cli(home, "gallery", "enroll", str(knn / "train" / "rose_leslie"), "--name", "Staff", *ENROL_FLAGS)
    assert cli(home, "privacy", "sweep")["erased"] == []
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3 * 86400))
    assert cli(home, "privacy", "sweep", "--now", later, "--dry-run")["erased"] == [short["subject_id"]]
    assert cli(home, "privacy", "sweep", "--now", later)["erased"] == [short["subject_id"]]
    old_key = cli(home, "init")["key_id"]
    rotated = cli(home, "privacy", "rotate-key")
    assert rotated["old_keys"] == [old_key] and rotated["templates"] == 2
    assert sorted(p.name for p in (home / "keys").iterdir()) == sorted(["active", f"{rotated['new_key']}.key"])
    found = cli(home, "identify", str(knn / "test" / "kit_with_rose.jpg"))
    assert sorted(f["decision"] for f in found["results"][0]["faces"]) == sorted([keep["subject_id"], "unknown"])
    assert cli(home, "audit", "verify")["ok"] is True


def _obama_folder(faces_dir: Path, target: Path) -> int:
    examples = faces_dir / "examples"
    photos = [examples / "knn_examples" / "train" / "obama" / "obama.jpg", examples / "obama-480p.jpg",
              examples / "obama-720p.jpg", examples / "obama-1080p.jpg", examples / "obama2.jpg",
              examples / "obama_small.jpg", examples / "knn_examples" / "test" / "obama1.jpg",
              faces_dir / "tests" / "test_images" / "obama3.jpg", examples / "obama.jpg",
              faces_dir / "tests" / "test_images" / "obama.jpg", faces_dir / "tests" / "test_images" / "obama2.jpg",
              examples / "knn_examples" / "train" / "obama" / "obama2.jpg"]
    target.mkdir()
    for number, photo in enumerate(photos):
        (target / f"{number:02d}_{photo.name}").symlink_to(photo)
    return len(photos)


def test_sigkill_during_folder_enrolment_loses_nothing_acknowledged(tmp_path, faces_dir, store_url, engine):
    home = tmp_path / "home"
    folder = tmp_path / "photos"
    total = _obama_folder(faces_dir, folder)
    env = {**os.environ, "SIGHTLINE_HOME": str(home), "SIGHTLINE_DB_URL": store_url, "SIGHTLINE_ACTOR": "crash"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sightline", "gallery", "enroll", str(folder), "--name", "Crash Test", *ENROL_FLAGS,
         "--store-images"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    acknowledged: dict[str, int] = {}
    deadline = time.monotonic() + 120
    while len(acknowledged) < 3 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("enrolled "):
            _, source, _, template_id = line.split()
            acknowledged[source] = int(template_id)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert len(acknowledged) == 3, "enrolment should have acknowledged three photos before the kill"

    with Gallery.open(home, store_url, engine) as gallery:
        with gallery.sessions() as session:
            templates = {t.id: t for t in session.scalars(select(Template))}
            accepted_rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "enrol",
                                                                     AuditEntry.outcome == "accepted")).all()
            for template in templates.values():
                assert gallery._decrypt_template(template).shape == (template.dim,)
        for source, template_id in acknowledged.items():
            assert templates[template_id].source == source
        assert 3 <= len(templates) < total
        assert sorted(json.loads(r.details)["template_id"] for r in accepted_rows) == sorted(templates)
        assert sorted(gallery.index.ids().tolist()) == sorted(templates)
        assert gallery.audit.verify().ok
        subject_id = gallery.list_subjects()[0]["id"]
    if store_url.startswith("sqlite"):
        with sqlite3.connect(home / "sightline.db") as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # The store is still writable: finish the job.
    result = subprocess.run([sys.executable, "-m", "sightline", "gallery", "enroll", str(folder), "--subject",
                             subject_id, "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == total
    with Gallery.open(home, store_url, engine) as gallery:
        assert len(gallery.index) == len(templates) + total
        assert gallery.audit.verify().ok


@pytest.mark.parametrize("command", [["gallery", "list"], ["audit", "verify"]])
def test_missing_key_is_reported_not_replaced(tmp_path, faces_dir, command):
    home = tmp_path / "home"
    cli(home, "gallery", "enroll", str(faces_dir / "examples" / "obama.jpg"), "--name", "O", *ENROL_FLAGS)
    for key in (home / "keys").iterdir():
        key.unlink()
    error = cli(home, *command, code=10)["error"]
    assert error["code"] == "key_error" and "sightline init" in error["message"]
    assert list((home / "keys").iterdir()) == []
