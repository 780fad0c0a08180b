"""Audit chain (tamper detection, concurrent appends) and template encryption, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import base64
import os
import threading

import numpy as np
import pytest
from sqlalchemy import text

from sightline.errors import KeyMaterialError, SightlineError
from sightline.privacy.audit import GENESIS_HASH, AuditLog, row_hash
from sightline.privacy.crypto import KeyRing, key_id_of, template_aad
from sightline.store.db import open_engine, session_factory


@pytest.fixture
def audit(store_url):
    engine = open_engine(store_url)
    log = AuditLog(session_factory(engine))
    for number in range(1, 8):
        log.record(actor="tester", action="identify", subject_id=f"s{number % 3}", outcome="no_match",
                   details={"faces": number})
    yield log, engine
    engine.dispose()


def test_untouched_chain_verifies(audit):
    log, _ = audit
    report = log.verify()
    assert report.ok and report.rows == 7 and report.head_seq == 7
    first = log.tail(7)[0]
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert first.hash == row_hash(1, first.ts, "tester", "identify", "s1", "no_match", '{"faces":1}', GENESIS_HASH)


def test_edited_row_is_named(audit):
    log, engine = audit
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET outcome = 'match' WHERE seq = 4"))
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 4 and "edited" in report.reason


def test_edited_row_with_recomputed_hash_is_caught_at_the_next_row(audit):
    log, engine = audit
    with engine.begin() as connection:
        row = connection.execute(text("SELECT * FROM audit_log WHERE seq = 3")).mappings().one()
        forged = row_hash(3, row["ts"], "someone-else", row["action"], row["subject_id"], row["outcome"],
                          row["details"], row["prev_hash"])
        connection.execute(text("UPDATE audit_log SET actor = 'someone-else', hash = :h WHERE seq = 3"), {"h": forged})
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 4 and "link" in report.reason


def test_deleted_row_is_named(audit):
    log, engine = audit
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 5 and "missing" in report.reason


def test_inserted_row_is_named(audit):
    log, engine = audit
    with engine.begin() as connection:
        for seq in range(7, 2, -1):  # make room at seq 3, one row at a time (primary key)
            connection.execute(text("UPDATE audit_log SET seq = :new WHERE seq = :old"), {"new": seq + 1, "old": seq})
        prev = connection.execute(text("SELECT hash FROM audit_log WHERE seq = 2")).scalar_one()
        ts = "2026-01-01T00:00:00.000000+00:00"
        forged = row_hash(3, ts, "intruder", "erase", "s9", "ok", "{}", prev)
        connection.execute(text("INSERT INTO audit_log (seq, ts, actor, action, subject_id, outcome, details, "
                                "prev_hash, hash) VALUES (3, :ts, 'intruder', 'erase', 's9', 'ok', '{}', :p, :h)"),
                           {"ts": ts, "p": prev, "h": forged})
    report = log.verify()
    # The forged row itself is self-consistent; the original row it displaced (now seq 4) no longer fits.
    assert not report.ok and report.first_bad_seq == 4


def test_row_appended_with_a_bad_hash_is_named(audit):
    log, engine = audit
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO audit_log (seq, ts, actor, action, subject_id, outcome, details, "
                                "prev_hash, hash) VALUES (8, 'x', 'intruder', 'erase', NULL, 'ok', '{}', :p, :h)"),
                           {"p": "0" * 64, "h": "f" * 64})
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 8


def test_truncated_tail_is_caught_only_against_a_recorded_head(audit):
    log, engine = audit
    head = log.verify()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = 7"))
    assert log.verify().ok  # a bare hash chain cannot see rows cut from its end...
    report = log.verify(expect_head=(head.head_seq, head.head_hash))
    assert not report.ok and report.first_bad_seq == 7  # ...but a head recorded elsewhere can


def test_details_refuse_biometric_vectors(audit):
    log, _ = audit
    with pytest.raises(SightlineError) as caught:
        log.record(actor="tester", action="identify", details={"embedding": np.ones(128, dtype=np.float32)})
    assert caught.value.code == "audit_biometric"
    with pytest.raises(SightlineError):
        log.record(actor="tester", action="identify", details={"vector": [0.1] * 128})
    assert log.verify().rows == 7


def test_concurrent_appends_stay_one_chain(store_url):
    engine = open_engine(store_url)
    log = AuditLog(session_factory(engine))
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for i in range(15):
                log.record(actor=f"worker-{number}", action="verify", outcome="match", details={"i": i})
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = log.verify()
    engine.dispose()
    assert not errors
    assert report.ok and report.rows == 60 and report.head_seq == 60


# -- encryption ----------------------------------------------------------------------------------


def test_key_file_is_private_and_round_trips(tmp_path):
    ring = KeyRing.load(tmp_path, create=True)
    key_file = tmp_path / "keys" / f"{ring.active_id}.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    vector = np.random.default_rng(0).standard_normal(128).astype(np.float32)
    key_id, nonce, ciphertext = ring.encrypt(vector.tobytes(), template_aad(7, "abc"))
    assert vector.tobytes() not in ciphertext and len(nonce) == 12
    again = KeyRing.load(tmp_path)
    plain = again.decrypt(key_id, nonce, ciphertext, template_aad(7, "abc"))
    assert np.array_equal(np.frombuffer(plain, dtype=np.float32), vector)


def test_ciphertext_is_bound_to_its_row(tmp_path):
    ring = KeyRing.load(tmp_path, create=True)
    key_id, nonce, ciphertext = ring.encrypt(b"x" * 512, template_aad(1, "subject-a"))
    with pytest.raises(KeyMaterialError, match="authentication"):
        ring.decrypt(key_id, nonce, ciphertext, template_aad(1, "subject-b"))  # moved to another subject
    with pytest.raises(KeyMaterialError, match="authentication"):
        ring.decrypt(key_id, nonce, ciphertext, template_aad(2, "subject-a"))  # moved to another row
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    with pytest.raises(KeyMaterialError, match="authentication"):
        ring.decrypt(key_id, nonce, tampered, template_aad(1, "subject-a"))


def test_world_readable_key_file_is_refused(tmp_path):
    ring = KeyRing.load(tmp_path, create=True)
    os.chmod(tmp_path / "keys" / f"{ring.active_id}.key", 0o644)
    with pytest.raises(KeyMaterialError, match="chmod 600"):
        KeyRing.load(tmp_path)


def test_missing_key_is_an_error_not_a_new_key(tmp_path):
    with pytest.raises(KeyMaterialError, match="sightline init"):
        KeyRing.load(tmp_path)
    assert not (tmp_path / "keys").exists()


def test_key_from_environment(tmp_path, monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv("SIGHTLINE_KEY", base64.b64encode(key).decode())
    ring = KeyRing.load(tmp_path, create=True)
    assert ring.from_env and ring.active_id == key_id_of(key)
    assert not (tmp_path / "keys").exists()  # nothing written to disk
    monkeypatch.setenv("SIGHTLINE_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        KeyRing.load(tmp_path)


def test_concurrent_writers_key_a_legacy_chain_exactly_once(store_url, tmp_path):
    engine = open_engine(store_url)
    legacy = AuditLog(session_factory(engine))
    for number in range(3):
        legacy.record(actor="old", action="identify", details={"n": number})
    home = tmp_path / "home"
    AuditLog(session_factory(engine), home, start_keyed=False).key(create=True)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        log = AuditLog(session_factory(engine), home, start_keyed=False)  # each like a separate process
        try:
            for i in range(10):
                log.record(actor=f"worker-{number}", action="verify", details={"i": i})
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = AuditLog(session_factory(engine), home).verify()
    with engine.connect() as connection:
        markers = connection.execute(text("SELECT seq FROM audit_log WHERE action = 'audit.keyed'")).scalars().all()
    engine.dispose()
    assert not errors
    assert markers == [4] and report.ok and report.keyed_from == 4 and report.rows == 44
