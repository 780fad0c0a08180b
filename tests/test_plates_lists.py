"""Plate lists on a real SQLite store with real reads: legal basis, audited hits (exact and fuzzy), keyed-hash
sightings of unlisted plates, export, erasure leaving no trace in the database file, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from plates_support import PLATES, truth

from sightline.errors import LegalBasisError, NotFoundError, SightlineError
from sightline.gallery.gallery import Gallery
from sightline.plates.service import PlateService, install_plate_retention
from sightline.privacy.retention import sweep
from sightline.store import plates_repo
from sightline.store.db import sqlite_checkpoint

LISTED = "test_002"  # reads RK755AJ
NEAR = "test_004"  # reads RK115AN
UNLISTED = "test_014"  # reads RK576AH


@pytest.fixture(scope="module")
def reader():
    from sightline.plates.service import build_plate_reader

    assert PLATES.is_dir(), f"test data missing: {PLATES}"
    return build_plate_reader("eu")


@pytest.fixture
def gallery(tmp_path):
    with Gallery.open(tmp_path / "home", create_key=True) as g:
        yield g


@pytest.fixture
def service(gallery, reader):
    return PlateService.from_gallery(gallery, reader)


def _db_bytes(gallery: Gallery) -> bytes:
    sqlite_checkpoint(gallery.db, "FULL")
    path = Path(gallery.db.url.database)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _add(service, plate, list_kind="watch", **extra):
    fields = {"legal_basis": "legitimate_interest", "purpose": "stolen vehicle report", "retention_days": 30}
    return service.lists.add(list_kind=list_kind, plate=plate, actor="officer", **{**fields, **extra})


def _read(service, stem):
    path, _box, plate = truth("eu", stem)
    return plate, service.read(path, actor="officer", source="test")["plates"]


def test_an_entry_needs_legal_basis_purpose_and_retention(service, gallery):
    with pytest.raises(LegalBasisError):
        service.lists.add(list_kind="watch", plate="RK755AJ", legal_basis=None, purpose=None, actor="officer")
    with pytest.raises(LegalBasisError, match="evidence"):
        _add(service, "RK755AJ", legal_basis="consent")
    assert service.lists.entries() == []
    refused = [e for e in gallery.audit.tail(10) if e.action == "plate_list_add"]
    assert [e.outcome for e in refused] == ["refused", "refused"]
    _add(service, "rk-755 aj")
    with pytest.raises(SightlineError) as info:
        _add(service, "RK755AJ")
    assert info.value.code == "plate_list_duplicate"


def test_a_read_on_the_watch_list_is_an_audited_exact_hit(service, gallery):
    entry = _add(service, "RK-755 AJ")
    plate, plates = _read(service, LISTED)
    assert [p["text"] for p in plates] == [plate]
    assert plates[0]["list_hits"] == [{"entry_id": entry["id"], "list": "watch", "plate": plate, "match": "exact",
                                       "reason": None}]
    hits = [e for e in gallery.audit.tail(10) if e.action == "plate_list_hit"]
    assert len(hits) == 1 and hits[0].subject_id == entry["id"] and hits[0].outcome == "exact"
    assert plate not in hits[0].details
    assert gallery.audit.verify().ok


def test_fuzzy_matches_are_reported_as_fuzzy_never_exact(service):
    one_edit = _add(service, "RK115AM", list_kind="allow")
    confusable = _add(service, "RK11SAN", list_kind="watch")
    plate, plates = _read(service, NEAR)
    assert plate == "RK115AN" and [p["text"] for p in plates] == [plate]
    hits = {h["entry_id"]: (h["match"], h["reason"]) for h in plates[0]["list_hits"]}
    assert hits == {one_edit["id"]: ("fuzzy", "one_edit"), confusable["id"]: ("fuzzy", "confusable")}
    assert [h.match.kind for h in service.lists.lookup("RK115AN", actor="officer")] == ["fuzzy", "fuzzy"]
    assert service.lists.lookup("XY999ZZ", actor="officer") == []


def test_unlisted_plates_are_kept_only_as_keyed_hash(service, gallery):
    plate, plates = _read(service, UNLISTED)
    assert [p["text"] for p in plates] == [plate] and plates[0]["list_hits"] == []
    digest = service.lists.hasher.hash(plate)
    with gallery.sessions() as session:
        assert plates_repo.count_sightings(session, digest) == 1
    raw = _db_bytes(gallery)
    assert digest.encode() in raw  # the control: the sighting is really in this file
    assert plate.encode() not in raw
    assert not [e for e in gallery.audit.tail(20) if e.action == "plate_list_hit"]


def test_erasing_an_entry_leaves_no_trace_in_the_database_file(service, gallery):
    plate, _ = _read(service, UNLISTED)  # first seen unlisted: a keyed-hash sighting
    entry = _add(service, plate, note="case 2026/117")
    _read(service, UNLISTED)  # now a hit
    service.lists.lookup(plate, actor="officer")
    digest = service.lists.hasher.hash(plate)
    before = _db_bytes(gallery)
    assert plate.encode() in before and digest.encode() in before and b"case 2026/117" in before
    counts = service.lists.erase(entry["id"], actor="dpo", reason="request")
    assert counts == {"entries": 1, "sightings": 1, "passages": 0}
    after = _db_bytes(gallery)
    for trace in (plate.encode(), digest.encode(), b"case 2026/117"):
        assert trace not in after
    with pytest.raises(NotFoundError):
        service.lists.get(entry["id"])
    actions = [e.action for e in gallery.audit.for_subject(entry["id"])]
    assert actions == ["plate_list_add", "plate_list_hit", "plate_list_hit", "plate_list_erase"]
    assert gallery.audit.verify().ok


def test_export_holds_the_entry_and_its_audit_trail(service):
    entry = _add(service, "RK755AJ", note="case 7")
    _read(service, LISTED)
    data = service.lists.export(entry["id"], actor="dpo")
    assert data["entry"]["plate"] == "RK755AJ" and data["entry"]["legal_basis"] == "legitimate_interest"
    assert [a["action"] for a in data["audit"]] == ["plate_list_add", "plate_list_hit", "plate_list_export"]


def test_retention_sweep_purges_expired_entries_and_old_sightings(service, gallery):
    install_plate_retention()
    entry = _add(service, "RK755AJ", retention_days=30)
    keep = _add(service, "RK115AN", retention_days=365)
    _read(service, UNLISTED)
    report = sweep(gallery, now=datetime.now(UTC) + timedelta(days=31))
    assert report.purged["plates"] == 2  # one entry past its date, one sighting older than 7 days
    assert [e["id"] for e in service.lists.entries()] == [keep["id"]]
    with pytest.raises(NotFoundError):
        service.lists.get(entry["id"])
    with gallery.sessions() as session:
        assert plates_repo.count_all(session) == {"list_entries": 1, "sightings": 0}
