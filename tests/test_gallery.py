"""The Gallery on real photos and real databases (SQLite file and a real PostgreSQL server).

The five knn_examples identities are enrolled from their training photos; the test photos must be
identified rank-1, people never enrolled must come out ``unknown``, and the privacy guarantees
(encryption at rest, erasure, export, key rotation, retention) are checked on the stored bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select, text

from sightline.errors import KeyMaterialError, LegalBasisError, NotFoundError, ProhibitedUseError
from sightline.gallery.enrol import QualityGate
from sightline.gallery.gallery import Gallery
from sightline.privacy.retention import sweep
from sightline.store.db import sqlite_checkpoint
from sightline.store.tables import EnrolmentImage, Subject, Template
from sightline.vision.image_io import load_image

PEOPLE = ("alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie")
EXPECTED = {
    "alex_lacamoire1.jpg": {"alex_lacamoire"},
    "johnsnow_test1.jpg": {"kit_harington"},
    "kit_with_rose.jpg": {"kit_harington", "rose_leslie"},
    "obama1.jpg": {"obama"},
    "obama_and_biden.jpg": {"obama", "biden"},
}
SUBJECT = {"legal_basis": "contract", "purpose": "building access for staff", "retention_days": 30}


def knn(faces_dir: Path) -> Path:
    return faces_dir / "examples" / "knn_examples"


def enrol_people(gallery: Gallery, faces_dir: Path, people=PEOPLE, **kwargs) -> dict[str, str]:
    ids = {}
    for person in people:
        subject = gallery.create_subject(name=person, **SUBJECT)
        results = gallery.enroll(str(subject["id"]), sorted((knn(faces_dir) / "train" / person).iterdir()), **kwargs)
        assert all(r.accepted for r in results), results
        ids[person] = str(subject["id"])
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def enrolled(request, tmp_path_factory, engine, faces_dir):
    """The five identities enrolled once per backend (read-only tests share it)."""
    home = tmp_path_factory.mktemp("enrolled")
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_server").new_database()
    gallery = Gallery.open(home, url, engine, actor="test-suite")
    ids = enrol_people(gallery, faces_dir)
    yield gallery, ids
    gallery.close()


@pytest.fixture
def gallery(store_url, tmp_path, engine):
    """An empty gallery on a fresh database (SQLite or PostgreSQL)."""
    with Gallery.open(tmp_path / "home", store_url, engine, actor="test-suite") as opened:
        yield opened


def is_sqlite(gallery: Gallery) -> bool:
    return gallery.db.dialect.name == "sqlite"


def sqlite_bytes(gallery: Gallery) -> bytes:
    """Raw bytes of the database file and its WAL/shared-memory companions."""
    path = Path(gallery.db.url.database)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def plaintext_templates(gallery: Gallery) -> list[np.ndarray]:
    with gallery.sessions() as session:
        return [gallery._decrypt_template(t) for t in session.scalars(select(Template))]


def windows(blob: bytes, size: int = 16, step: int = 96, most: int = 24) -> list[bytes]:
    """16-byte pieces of ``blob`` spread over its length (at most ``most`` of them)."""
    step = max(step, (len(blob) - size) // most + 1)
    return [blob[i:i + size] for i in range(0, len(blob) - size + 1, step)]


# -- consent --------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["legal_basis", "purpose", "retention_days"])
def test_enrolment_refused_without_basis_purpose_or_retention(gallery, missing):
    fields = {"name": "Ann Example", **SUBJECT}
    fields.pop(missing)
    with pytest.raises(LegalBasisError) as caught:
        gallery.create_subject(**fields)
    assert caught.value.code == "legal_basis_required"
    assert {"legal_basis": "legal basis", "purpose": "purpose", "retention_days": "retention"}[missing] \
        in caught.value.message
    assert gallery.list_subjects() == []


def test_consent_needs_evidence_and_a_known_basis(gallery):
    with pytest.raises(LegalBasisError, match="evidence"):
        gallery.create_subject(name="Ann", legal_basis="consent", purpose="door access", retention_days=5)
    with pytest.raises(LegalBasisError, match="legal basis must be one of"):
        gallery.create_subject(name="Ann", legal_basis="because", purpose="door access", retention_days=5)
    record = gallery.create_subject(name="Ann", legal_basis="consent", purpose="door access", evidence="form-42",
                                    retention_days=5)
    assert record["evidence"] == "form-42" and record["legal_basis"] == "consent"
    row = gallery.audit.tail(1)[0]
    assert row.action == "subject_create" and "Ann" not in row.details  # names never enter the audit log


def test_enrol_into_unknown_subject_is_refused(gallery, faces_dir):
    with pytest.raises(NotFoundError):
        gallery.enroll_image("nope", knn(faces_dir) / "train" / "obama" / "obama.jpg")


# -- quality gate ---------------------------------------------------------------------------------


def _turned_face_crop(engine, faces_dir: Path) -> np.ndarray:
    image = load_image(faces_dir / "group_six_people.jpg")
    turned = min(engine.detect_array(image), key=lambda f: f.quality.pose)
    x1, y1, x2, y2 = (int(v) for v in turned.box)
    pad = int((x2 - x1) * 0.8)
    crop = image[max(y1 - pad, 0):y2 + pad, max(x1 - pad, 0):x2 + pad]
    return cv2.resize(crop, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


def test_quality_gate_names_each_reason(engine, faces_dir, objects_dir):
    gate = QualityGate()
    examples = faces_dir / "examples"
    obama = load_image(examples / "obama.jpg")
    cases = {
        "no_face": load_image(objects_dir / "dog.jpg"),
        "several_faces": load_image(examples / "two_people.jpg"),
        "too_small": load_image(examples / "obama-240p.jpg"),
        "too_blurred": cv2.GaussianBlur(obama, (0, 0), 6),
        "bad_pose": _turned_face_crop(engine, faces_dir),
    }
    for reason, pixels in cases.items():
        with pytest.raises(Exception) as caught:
            gate.check(engine.detect_array(pixels))
        assert getattr(caught.value, "code", None) == reason, (reason, caught.value)
    assert gate.check(engine.detect_array(obama)).quality.face_pixels > 200


def test_rejected_image_is_reported_and_audited(gallery, faces_dir):
    subject = gallery.create_subject(name="Two Faces", **SUBJECT)
    result = gallery.enroll_image(str(subject["id"]), faces_dir / "examples" / "two_people.jpg")
    assert not result.accepted and result.reason == "several_faces"
    row = gallery.audit.tail(1)[0]
    assert (row.action, row.outcome, json.loads(row.details)) == ("enrol", "rejected", {"reason": "several_faces"})
    assert gallery.show(str(subject["id"]))["templates"] == 0


# -- identification -------------------------------------------------------------------------------


def test_identify_test_photos_rank1(enrolled, faces_dir):
    gallery, ids = enrolled
    names = {v: k for k, v in ids.items()}
    for photo, people in EXPECTED.items():
        results = gallery.identify(knn(faces_dir) / "test" / photo, k=3)
        found = {names[r.decision] for r in results if r.match}
        assert found == people, (photo, [r.to_dict() for r in results])
        for result in results:
            if result.match:
                assert result.candidates[0].subject_id == result.decision
                assert result.match.score >= gallery.threshold
                assert [c.score for c in result.candidates] == sorted((c.score for c in result.candidates),
                                                                     reverse=True)
                assert len({c.subject_id for c in result.candidates}) == len(result.candidates) == 3


@pytest.mark.parametrize("photo", ["lin-manuel-miranda.png", "../group_six_people.jpg"])
def test_people_never_enrolled_are_unknown(enrolled, faces_dir, photo):
    gallery, _ = enrolled
    results = gallery.identify(faces_dir / "examples" / photo)
    assert results, "the photo has faces"
    assert all(r.decision == "unknown" and r.match is None for r in results), [r.to_dict() for r in results]
    row = gallery.audit.tail(1)[0]
    assert row.action == "identify" and row.outcome == "no_match"
    details = json.loads(row.details)
    assert {k: details[k] for k in ("faces", "matched", "unknown")} == \
        {"faces": len(results), "matched": [], "unknown": len(results)}
    assert details["threshold"] == max(r.threshold for r in results)  # the threshold used is audited


def test_identify_refuses_demographic_attributes(enrolled, faces_dir):
    gallery, _ = enrolled
    with pytest.raises(ProhibitedUseError):
        gallery.identify(faces_dir / "examples" / "obama.jpg", attributes=["age", "gender"])
    with pytest.raises(ProhibitedUseError):
        gallery.identify(faces_dir / "examples" / "obama.jpg", attributes=["Ethnicity"])
    assert gallery.identify(faces_dir / "examples" / "obama.jpg", attributes=["quality"])


def test_verify_one_to_one(enrolled, faces_dir):
    gallery, ids = enrolled
    probe = knn(faces_dir) / "test" / "obama1.jpg"
    same = gallery.verify(probe, ids["obama"])
    other = gallery.verify(probe, ids["biden"])
    assert same.same_person and same.templates == 2 and same.score >= gallery.threshold
    assert not other.same_person and other.score < gallery.threshold
    row = gallery.audit.tail(1)[0]
    assert (row.action, row.subject_id, row.outcome) == ("verify", ids["biden"], "no_match")


def test_index_is_rebuilt_from_the_store(enrolled, engine):
    gallery, ids = enrolled
    url = gallery.db.url.render_as_string(hide_password=False)
    with Gallery.open(gallery.home, url, engine) as reopened:
        assert sorted(reopened.index.ids().tolist()) == sorted(gallery.index.ids().tolist())
        assert len(reopened.index) == sum(s["templates"] for s in reopened.list_subjects()) == 9
    assert gallery.audit.verify().ok


# -- encryption at rest ---------------------------------------------------------------------------


def stored_bytes(gallery: Gallery, request) -> bytes:
    """Raw bytes of every file holding the gallery's database, after a checkpoint: the SQLite file and its
    WAL, or PostgreSQL's data files of that database plus the server's WAL."""
    if is_sqlite(gallery):
        sqlite_checkpoint(gallery.db, "FULL")
        return sqlite_bytes(gallery)
    server = request.getfixturevalue("postgres_server")
    server.checkpoint()
    with gallery.db.connect() as connection:
        oid = connection.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar()
    files = [*(server.data_dir / "base" / str(oid)).iterdir(), *(server.data_dir / "pg_wal").iterdir()]
    return b"".join(p.read_bytes() for p in files if p.is_file())


def bytes_of_a_cleartext_template(gallery: Gallery, request, home: Path, vector: np.ndarray) -> bytes:
    """Control: a fresh database of the same kind where ``vector`` is written into ``templates.ciphertext``
    unencrypted (what the store would hold with encryption off); the raw bytes of its files."""
    url = None if is_sqlite(gallery) else request.getfixturevalue("postgres_server").new_database()
    with Gallery.open(home, url, gallery.faces, actor="test-suite") as control:
        subject = control.create_subject(name="control", **SUBJECT)
        with control.sessions.begin() as session:
            session.add(Template(subject_id=str(subject["id"]), image_id=None, backend="control", embedder="control",
                                 dim=int(vector.size), quality=1.0, source=None, key_id="none", nonce=bytes(12),
                                 ciphertext=vector.astype(np.float32).tobytes() + bytes(16),
                                 created_at=datetime.now(UTC)))
        return stored_bytes(control, request)


def test_database_holds_no_plaintext_embedding(enrolled, request, tmp_path):
    gallery, _ = enrolled
    vectors = plaintext_templates(gallery)
    assert len(vectors) == 9
    with gallery.sessions() as session:  # what is stored is ciphertext of the right size
        templates = list(session.scalars(select(Template)))
    assert all(len(t.ciphertext) == t.dim * 4 + 16 and len(t.nonce) == 12 for t in templates)
    raw = stored_bytes(gallery, request)
    assert len(raw) > 100_000
    # Control on the real files: the scan finds every stored template row, as the store wrote it.
    for template in templates:
        assert all(w in raw for w in windows(template.ciphertext)), f"template {template.id} not in the scanned files"
    for vector in vectors:
        for encoding in (vector.astype(np.float32).tobytes(), vector.astype(np.float64).tobytes()):
            assert encoding not in raw
            for window in windows(encoding):
                assert window not in raw
    # Control with encryption off: the same scan finds a real template written in the clear to the same
    # column of a real database of the same kind (written after the scan above: PostgreSQL's WAL is shared).
    clear = bytes_of_a_cleartext_template(gallery, request, tmp_path / "control", vectors[0])
    assert all(w in clear for w in windows(vectors[0].astype(np.float32).tobytes()))


# -- erasure, retention, export -------------------------------------------------------------------


def test_erasure_leaves_no_trace(gallery, faces_dir):
    ids = enrol_people(gallery, faces_dir, people=("obama", "biden"), store_images=True)
    victim = ids["obama"]
    with gallery.sessions() as session:
        secrets = [t.ciphertext for t in session.scalars(select(Template).where(Template.subject_id == victim))]
        secrets += [i.ciphertext for i in session.scalars(select(EnrolmentImage)
                                                          .where(EnrolmentImage.subject_id == victim))]
        victim_ids = list(session.scalars(select(Template.id).where(Template.subject_id == victim)))
        victim_vectors = [gallery._decrypt_template(t) for t in
                          session.scalars(select(Template).where(Template.subject_id == victim))]
    assert len(victim_ids) == 2 and len(secrets) == 4
    before = gallery.audit.verify().rows
    if is_sqlite(gallery):  # control: before erasure the same scan finds every secret and file name on disk
        raw = sqlite_bytes(gallery)
        for secret in secrets:
            assert all(w in raw for w in windows(secret, 16, 64)), "the scan misses a stored ciphertext"
        assert b"obama.jpg" in raw and b"obama2.jpg" in raw

    report = gallery.erase(victim, reason="subject request")
    assert (report.templates, report.images, report.index_entries) == (2, 2, 2)

    with gallery.sessions() as session:
        assert session.get(Subject, victim) is None
        assert session.scalar(select(Template).where(Template.subject_id == victim)) is None
        assert session.scalar(select(EnrolmentImage).where(EnrolmentImage.subject_id == victim)) is None
        assert session.execute(text("SELECT count(*) FROM audit_log WHERE details LIKE '%obama%'")).scalar() == 0
    assert not any(i in gallery.index for i in victim_ids)
    stored = gallery.index.stored_vectors()
    for vector in victim_vectors:
        assert stored.size == 0 or float(np.max(stored @ vector)) < 0.99
    results = gallery.identify(knn(faces_dir) / "test" / "obama1.jpg")
    assert all(r.decision == "unknown" for r in results)
    assert all(c.subject_id != victim for r in results for c in r.candidates)
    with pytest.raises(NotFoundError):
        gallery.export(victim, faces_dir.parent / "never-written")
    if is_sqlite(gallery):  # overwritten on disk, not just unlinked
        raw = sqlite_bytes(gallery)
        for secret in secrets:
            assert not any(w in raw for w in windows(secret, 16, 64))
        assert b"obama.jpg" not in raw and b"obama2.jpg" not in raw
    audit = gallery.audit.verify()
    assert audit.ok and audit.rows > before
    last = gallery.audit.tail(1, subject_id=victim)[0]
    assert (last.action, last.subject_id) == ("erase", victim)
    details = json.loads(last.details)
    assert {k: details[k] for k in ("templates", "images", "reason")} == \
        {"templates": 2, "images": 2, "reason": "subject request"}
    assert gallery.list_subjects()[0]["name"] == "biden"


def test_retention_sweep_erases_only_expired_subjects(gallery, faces_dir):
    short = gallery.create_subject(name="Short Stay", legal_basis="contract", purpose="visitor badge",
                                   retention_days=1)
    gallery.enroll_image(str(short["id"]), knn(faces_dir) / "train" / "biden" / "biden.jpg")
    long = gallery.create_subject(name="Long Stay", **SUBJECT)
    later = datetime.now(UTC) + timedelta(days=2)
    dry = sweep(gallery, now=later, dry_run=True)
    assert dry.erased == [short["id"]] and len(gallery.list_subjects()) == 2
    report = sweep(gallery, now=later)
    assert report.erased == [short["id"]]
    assert [s["id"] for s in gallery.list_subjects()] == [long["id"]]
    assert len(gallery.index) == 0
    rows = gallery.audit.tail(2)
    assert (rows[0].action, rows[0].subject_id, json.loads(rows[0].details)["reason"]) == \
        ("erase", short["id"], "retention_expired")
    assert rows[1].action == "retention_sweep"
    assert sweep(gallery).erased == []  # nothing is due today


def test_export_bundle(gallery, faces_dir, tmp_path):
    ids = enrol_people(gallery, faces_dir, people=("rose_leslie",), store_images=True)
    subject_id = ids["rose_leslie"]
    bundle = gallery.export(subject_id, tmp_path / "sar")
    document = json.loads((bundle / "subject.json").read_text())
    assert document["subject"]["id"] == subject_id and document["subject"]["name"] == "rose_leslie"
    assert document["subject"]["legal_basis"] == "contract" and document["subject"]["purpose"]
    assert document["templates_included"] is False and not (bundle / "templates.json").exists()
    assert len(document["templates"]) == 2 and all("embedding" not in t for t in document["templates"])
    assert [a["action"] for a in document["audit"]] == ["subject_create", "enrol", "enrol"]
    originals = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (knn(faces_dir) / "train" / "rose_leslie")
                 .iterdir()}
    exported = {hashlib.sha256((bundle / i["file"]).read_bytes()).hexdigest() for i in document["images"]}
    assert exported == originals
    assert (bundle / "subject.json").stat().st_mode & 0o777 == 0o600

    full = gallery.export(subject_id, tmp_path / "sar-full", include_templates=True)
    vectors = json.loads((full / "templates.json").read_text())
    assert plaintext_templates(gallery)[0] == pytest.approx(np.array(vectors[0]["embedding"]), abs=1e-6)
    row = gallery.audit.tail(1)[0]
    assert (row.action, json.loads(row.details)["templates_included"]) == ("export", True)


def test_key_rotation_reencrypts_and_old_key_is_gone(gallery, faces_dir, engine):
    ids = enrol_people(gallery, faces_dir, people=("kit_harington",), store_images=True)
    old_key = gallery.keys.active_id
    old_file = gallery.home / "keys" / f"{old_key}.key"
    assert old_file.exists()
    with gallery.sessions() as session:
        old_ciphertexts = [t.ciphertext for t in session.scalars(select(Template))]
    before = plaintext_templates(gallery)

    report = gallery.rotate_key()
    assert report.old_keys == [old_key] and report.templates == 2 and report.images == 2
    assert not old_file.exists() and (gallery.home / "keys" / f"{report.new_key}.key").exists()
    with gallery.sessions() as session:
        assert {t.key_id for t in session.scalars(select(Template))} == {report.new_key}
        assert {i.key_id for i in session.scalars(select(EnrolmentImage))} == {report.new_key}
    after = plaintext_templates(gallery)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    if is_sqlite(gallery):
        raw = sqlite_bytes(gallery)
        assert not any(c in raw for c in old_ciphertexts)

    url = gallery.db.url.render_as_string(hide_password=False)
    with Gallery.open(gallery.home, url, engine) as reopened:  # works with only the new key on disk
        results = reopened.identify(knn(faces_dir) / "test" / "johnsnow_test1.jpg")
        assert [r.decision for r in results] == [ids["kit_harington"]]
    (gallery.home / "keys" / f"{report.new_key}.key").unlink()
    (gallery.home / "keys" / "active").unlink()
    with pytest.raises(KeyMaterialError):  # templates exist, key lost: refuse rather than make a new key
        Gallery.open(gallery.home, url, engine)


def test_rotation_with_a_key_from_the_environment(gallery, faces_dir, monkeypatch, engine):
    import base64
    import os

    first, second = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("SIGHTLINE_KEY", base64.b64encode(first).decode())
    url = gallery.db.url.render_as_string(hide_password=False)
    home = gallery.home / "env-home"
    from sightline.privacy.crypto import audit_key_path

    audit_key_path(home).parent.mkdir(parents=True)  # the database's audit chain is keyed: its key comes along
    audit_key_path(home).write_bytes(audit_key_path(gallery.home).read_bytes())
    audit_key_path(home).chmod(0o600)
    with Gallery.open(home, url, engine) as env_gallery:
        enrol_people(env_gallery, faces_dir, people=("alex_lacamoire",))
        with pytest.raises(KeyMaterialError, match="SIGHTLINE_NEW_KEY"):
            env_gallery.rotate_key()
        env_gallery.rotate_key(new_key=second)
    monkeypatch.setenv("SIGHTLINE_KEY", base64.b64encode(second).decode())
    with Gallery.open(home, url, engine) as reopened:
        assert len(reopened.index) == 1
    monkeypatch.setenv("SIGHTLINE_KEY", base64.b64encode(first).decode())
    with pytest.raises(KeyMaterialError, match="not available"):
        Gallery.open(home, url, engine).index  # noqa: B018 - building the index decrypts


def test_erasure_also_cleans_the_event_history(gallery, faces_dir, tmp_path):
    from sightline.events.store import EventRow

    ids = enrol_people(gallery, faces_dir, people=("biden",))
    snapshot = tmp_path / "snap.jpg"
    snapshot.write_bytes(b"\xff\xd8 a snapshot showing the person")
    now = datetime.now(UTC)
    with gallery.sessions.begin() as session:
        session.add(EventRow(id="e1", type="person_seen", camera="door", label="person", track_id=1,
                             start_time=now, subject_id=ids["biden"], subject_name="biden",
                             snapshot=str(snapshot), data={}))
        session.add(EventRow(id="e2", type="zone_enter", camera="door", label="person", track_id=1,
                             start_time=now, subject_id=ids["biden"], subject_name="biden", data={}))
    gallery.erase(ids["biden"])
    with gallery.sessions() as session:
        assert session.get(EventRow, "e1") is None
        remaining = session.get(EventRow, "e2")
        assert remaining is None or (remaining.subject_id is None and remaining.subject_name is None)
    assert not snapshot.exists()
    details = json.loads(gallery.audit.tail(1, subject_id=ids["biden"])[0].details)
    assert details["related"]["events"]["events_deleted"] == 1
    assert "snap.jpg" not in json.dumps(details)
