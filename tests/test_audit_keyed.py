"""Keyed audit chain and signed checkpoints: the attacks a database-only intruder can make, on SQLite and PostgreSQL.

The intruder here can run any SQL on the database and compute sha256, but cannot read the data
home's key file (``audit/chain.hmac``) or rewrite the checkpoint file.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
from sqlalchemy import text

from sightline.errors import KeyMaterialError
from sightline.privacy.audit import KEYED_START, AuditLog, row_hash, write_checkpoint
from sightline.privacy.checkpoints import add_checkpoint_hook, remove_checkpoint_hook
from sightline.privacy.crypto import audit_key_id, audit_key_path
from sightline.store.db import open_engine, session_factory


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def engine(store_url):
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


def fill(log: AuditLog) -> None:
    """A small real history: enrol, identify, the erasure of one subject, then more work."""
    log.record(actor="op", action="subject_create", subject_id="s1")
    log.record(actor="op", action="enrol", subject_id="s1", outcome="accepted", details={"templates": 1})
    log.record(actor="cam", action="identify", subject_id="s1", outcome="match", details={"faces": 1})
    log.record(actor="admin", action="erase", subject_id="s1", details={"reason": "asked to be forgotten"})
    for number in range(4):
        log.record(actor="cam", action="identify", outcome="no_match", details={"faces": number})


def rows(engine) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings()]


def delete_and_recompute(engine, action: str) -> int:
    """The attack: delete the first row with ``action``, renumber the rest, recompute every later hash (sha256)."""
    before = rows(engine)
    gone = next(r["seq"] for r in before if r["action"] == action)
    kept = [r for r in before if r["seq"] != gone]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq >= :s"), {"s": gone})
        prev = kept[gone - 2]["hash"] if gone > 1 else "0" * 64
        for new_seq, row in enumerate(kept[gone - 1:], start=gone):
            digest = row_hash(new_seq, row["ts"], row["actor"], row["action"], row["subject_id"], row["outcome"],
                              row["details"], prev)
            connection.execute(text("INSERT INTO audit_log (seq, ts, actor, action, subject_id, outcome, details, "
                                    "prev_hash, hash) VALUES (:seq, :ts, :actor, :action, :subject_id, :outcome, "
                                    ":details, :prev, :hash)"),
                               {**row, "seq": new_seq, "prev": prev, "hash": digest})
            prev = digest
    return gone


def test_a_new_chain_is_keyed_from_its_first_row_and_the_key_stays_out_of_the_database(engine, home):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    report = log.verify()
    assert report.ok and report.keyed_from == 1 and report.rows == 9
    key_file = audit_key_path(home)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = log.key()
    first = rows(engine)[0]
    assert first["action"] == KEYED_START and json.loads(first["details"])["key_id"] == audit_key_id(key)
    with engine.connect() as connection:  # the key itself is nowhere in the database
        dump = " ".join(str(v) for r in connection.execute(text("SELECT * FROM audit_log")) for v in r)
    assert key.hex() not in dump and key_file.read_text().strip() not in dump
    assert first["hash"] != row_hash(1, first["ts"], first["actor"], first["action"], None, first["outcome"],
                                     first["details"], first["prev_hash"])  # not the plain sha256 any more


def test_deleting_the_erase_row_and_recomputing_the_hashes_is_caught_and_the_gap_named(engine, home):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    gone = delete_and_recompute(engine, "erase")
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == gone and report.verified_through == gone - 1
    assert f"seq {gone}" in report.reason and f"last good row is seq {gone - 1}" in report.reason


def test_the_same_attack_is_caught_by_the_checkpoint_even_when_the_keyed_start_row_goes_too(engine, home):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    checkpoint = write_checkpoint(log)
    assert checkpoint is not None and checkpoint.seq == 9
    # Rewrite the whole chain as a plain, self-consistent sha256 chain without the keyed start and the erasure.
    delete_and_recompute(engine, KEYED_START)
    delete_and_recompute(engine, "erase")
    report = AuditLog(session_factory(engine), home, start_keyed=False).verify()
    assert not report.ok and report.first_bad_seq is not None
    assert report.checkpoint["seq"] == 9
    assert "checkpoint" in report.reason or "keyed" in report.reason


def test_truncating_the_tail_after_a_checkpoint_is_caught(engine, home):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    write_checkpoint(log)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq > 6"))
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 7
    assert "rows 7..9 were removed from the end" in report.reason


def test_rows_rewritten_up_to_a_checkpoint_do_not_match_it(engine, home):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    write_checkpoint(log)
    log.record(actor="cam", action="identify", outcome="no_match")
    assert log.verify().ok
    with engine.begin() as connection:  # swap in a different, equally "valid" head at the checkpointed seq
        connection.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 9"), {"h": "a" * 64})
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 9


def test_an_edited_or_foreign_checkpoint_file_is_refused(engine, home):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    write_checkpoint(log)
    path = log.checkpoints.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    line = json.loads(path.read_text().splitlines()[-1])
    path.write_text(json.dumps({**line, "seq": 5}) + "\n")  # move the checkpoint back to hide a truncation
    report = log.verify()
    assert not report.ok and "invalid signature" in report.reason
    path.write_text("not json\n")
    assert "not a checkpoint" in log.verify().reason


def test_checkpoints_are_written_only_when_the_head_moves_and_go_to_every_hook(engine, home):
    log = AuditLog(session_factory(engine), home)
    seen, broken_calls = [], []

    def broken(checkpoint) -> None:
        broken_calls.append(checkpoint.seq)
        raise RuntimeError("broker down")

    add_checkpoint_hook("test-collect", seen.append)
    add_checkpoint_hook("test-broken", broken)
    try:
        fill(log)
        first = write_checkpoint(log)
        assert write_checkpoint(log) == first  # head unchanged: no new line
        log.record(actor="cam", action="identify", outcome="no_match")
        second = write_checkpoint(log)
    finally:
        remove_checkpoint_hook("test-collect")
        remove_checkpoint_hook("test-broken")
    lines = log.checkpoints.path.read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 9, 10]  # the keyed start wrote the first one
    assert [c.seq for c in seen] == [9, 10] and broken_calls == [9, 10] and second.seq == 10
    assert log.verify().checkpoints_checked == 3


def test_a_legacy_chain_is_sealed_by_the_keyed_start_row(engine, home):
    legacy = AuditLog(session_factory(engine))  # no home, no key: the pre-upgrade behaviour
    for number in range(5):
        legacy.record(actor="old", action="identify", details={"n": number})
    assert legacy.verify().ok and legacy.verify().keyed_from is None
    log = AuditLog(session_factory(engine), home)  # the upgrade: opened with its data home
    fill(log)
    report = log.verify()
    assert report.ok and report.keyed_from == 6 and report.rows == 14
    assert json.loads(rows(engine)[5]["details"])["legacy_rows"] == 5
    # rewriting the legacy part (with the plain hash it uses) breaks the keyed start row's link
    legacy_rows = rows(engine)[:5]
    with engine.begin() as connection:
        prev = legacy_rows[1]["hash"]
        for row in legacy_rows[2:]:
            actor = "someone-else" if row["seq"] == 3 else row["actor"]
            digest = row_hash(row["seq"], row["ts"], actor, row["action"], row["subject_id"], row["outcome"],
                              row["details"], prev)
            connection.execute(text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                               {"a": actor, "p": prev, "h": digest, "s": row["seq"]})
            prev = digest
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 6 and "link" in report.reason
    with pytest.raises(KeyMaterialError, match="keyed"):  # and an unkeyed writer may not extend a keyed chain
        legacy.record(actor="old", action="identify")


def test_a_keyed_chain_with_its_key_missing_is_an_error_not_a_new_key(engine, home, tmp_path):
    log = AuditLog(session_factory(engine), home)
    fill(log)
    os.remove(audit_key_path(home))
    with pytest.raises(KeyMaterialError, match="chain.hmac"):
        AuditLog(session_factory(engine), home)
    assert not audit_key_path(home).exists()
    other = tmp_path / "other-home"
    AuditLog(session_factory(engine), other, start_keyed=False).key(create=True)  # somebody else's key
    report = AuditLog(session_factory(engine), other, start_keyed=False).verify()
    assert not report.ok and report.first_bad_seq == 1 and "audit key" in report.reason


def test_the_key_can_come_from_the_environment(engine, home, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_AUDIT_KEY", "A" * 43 + "=")
    log = AuditLog(session_factory(engine), home)
    fill(log)
    assert log.verify().ok and not audit_key_path(home).exists()
    monkeypatch.delenv("SIGHTLINE_AUDIT_KEY")
    with pytest.raises(KeyMaterialError):
        AuditLog(session_factory(engine), home)
