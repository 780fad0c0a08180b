"""Retention and export of vehicle passages: an expired plate-list entry takes its passages with it; the
entry's export lists them. Real SQLite, real keyed hashes, real events; passages built from real reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sightline.events.sink import EventSink
from sightline.events.store import query_events
from sightline.gallery.gallery import Gallery
from sightline.plates.hashing import PlateHasher
from sightline.plates.lists import PlateLists
from sightline.plates.passages import DriverResult, PassageRecorder
from sightline.plates.service import purge_plates
from sightline.plates.vote import PlateVoter, TrackRead

ENTRY = {"legal_basis": "legitimate_interest", "purpose": "depot gate: expected vans", "retention_days": 2}


def _passage(recorder: PassageRecorder, text: str, track_id: int):
    voter = PlateVoter(3)
    for i, (read, confidence) in enumerate([(text, 0.95), (text[:-1] + "X", 0.6), (text, 0.9)]):
        voter.add(TrackRead(read, confidence, (10.0, 10.0, 90.0, 30.0), i))
    now = datetime.now(UTC)
    return recorder.record(camera="gate", label="car", track_id=track_id, started=now, ended=now,
                           voted=voter.vote(), driver=DriverResult(seen=False), direction=None, snapshot=None)


def test_expired_entry_takes_its_passages_and_export_lists_them(tmp_path, engine) -> None:
    with Gallery.open(tmp_path / "home", None, engine, actor="test-suite") as gallery:
        lists = PlateLists(gallery.sessions, gallery.audit, PlateHasher.load(gallery.home))
        entry = lists.add(list_kind="watch", plate="RK755AJ", actor="test-suite", **ENTRY)
        recorder = PassageRecorder(hasher=lists.hasher, lists=lists)
        sink = EventSink(gallery.sessions)
        listed, other = _passage(recorder, "RK755AJ", 1), _passage(recorder, "BB751BH", 2)
        assert listed.data["plate"] == "RK755AJ" and listed.data["list_hit"]["match"] == "exact"
        assert other.data["plate"] is None and other.data["list_hit"]["match"] == "none"
        for event in (listed, other):
            assert sink.emit(event)
        exported = lists.export(entry["id"], actor="test-suite")
        assert [p["event_id"] for p in exported["passages"]] == [listed.id]
        with gallery.sessions.begin() as session:
            purge_plates(session, datetime.now(UTC) + timedelta(days=3))
        with gallery.sessions() as session:
            left = query_events(session, type="vehicle_passage", limit=10)
        assert [e.id for e in left] == [other.id]
        assert lists.entries() == []
