"""Review items: events grouped per track, filtered, marked reviewed (persisted), and gone with retention
and erasure. Real SQLite file and real PostgreSQL (the ``store_url`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sightline.events.models import Event, EventType
from sightline.events.store import purge_events, save_event, unlink_subject
from sightline.store import create_db_engine, session_factory, upgrade_to_head
from sightline.store.events_repo import EventQuery
from sightline.store.review_repo import mark_reviewed, review_items
from sightline.store.tables import Subject

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(store_url):
    engine = create_db_engine(store_url)
    upgrade_to_head(engine)
    yield session_factory(engine)
    engine.dispose()


def ev(kind: EventType, seconds: float, track: int | None, camera: str = "gate", **extra) -> Event:
    return Event(kind, camera, extra.pop("label", "person"), start_time=NOW + timedelta(seconds=seconds),
                 track_id=track, **extra)


@pytest.fixture
def stored(sessions, tmp_path):
    """Track 1 (Lin recognised, enters the door zone), track 2 (an unknown face), a plate read, and
    track 1 again on another camera."""
    shot = tmp_path / "lin.jpg"
    shot.write_bytes(b"\xff\xd8jpeg")
    events = [ev(EventType.TRACK_START, 0, 1, snapshot=str(tmp_path / "start.jpg")),
              ev(EventType.PERSON_SEEN, 2, 1, subject_id="s-lin", subject_name="Lin-Manuel Miranda", score=0.71,
                 snapshot=str(shot)),
              ev(EventType.ZONE_ENTER, 3, 1, zone="door"),
              ev(EventType.TRACK_END, 9, 1, end_time=NOW + timedelta(seconds=12)),
              ev(EventType.TRACK_START, 5, 2), ev(EventType.UNKNOWN_PERSON, 6, 2), ev(EventType.TRACK_END, 8, 2),
              ev(EventType.PLATE_READ, 20, None, label="car", data={"plate": "AB12CDE"}),
              ev(EventType.TRACK_START, 30, 1, camera="yard")]
    with sessions.begin() as session:
        session.add(Subject(id="s-lin", name="Lin-Manuel Miranda", legal_basis="consent", purpose="test",
                            evidence=None, enrolled_by="tests", created_at=NOW, retain_until=NOW + timedelta(days=9)))
        session.flush()
        for event in events:
            save_event(session, event)
    return events


def _items(sessions, **filters):
    query = EventQuery(camera=filters.pop("camera", None))
    with sessions() as session:
        items, truncated = review_items(session, query, **filters)
        assert not truncated
        return [item.to_dict() for item in items]


def test_events_are_grouped_per_track_with_the_best_snapshot(sessions, stored):
    items = _items(sessions)
    assert [(i["camera"], i["track_id"], i["events"]) for i in items] == [
        ("yard", 1, 1), ("gate", None, 1), ("gate", 2, 3), ("gate", 1, 4)]
    lin = items[-1]
    assert lin["snapshot_event_id"] == stored[1].id  # the recognition, not the track start
    assert lin["people"] == [{"subject_id": "s-lin", "name": "Lin-Manuel Miranda", "score": 0.71,
                              "event_id": stored[1].id}]
    assert (lin["start"], lin["end"], lin["duration_s"]) == ("2026-11-24T12:00:00.000Z", "2026-11-24T12:00:12.000Z",
                                                            12.0)
    assert lin["zones"] == ["door"] and lin["event_ids"] == [e.id for e in stored[:4]]
    unknown = items[2]
    assert unknown["people"] == [] and unknown["unknown_face"] and unknown["snapshot_event_id"] is None
    assert [i["id"] for i in _items(sessions, subject_id="s-lin")] == [lin["id"]]
    assert [i["id"] for i in _items(sessions, zone="door")] == [lin["id"]]
    assert [i["camera"] for i in _items(sessions, camera="yard")] == ["yard"]


def test_a_track_id_after_a_long_silence_is_a_new_item(sessions, stored):
    with sessions.begin() as session:
        save_event(session, ev(EventType.TRACK_START, 3600, 2))
    assert [(i["camera"], i["track_id"]) for i in _items(sessions)][:1] == [("gate", 2)]
    assert len(_items(sessions)) == 5


def test_mark_reviewed_persists_and_filters(sessions, stored):
    lin = _items(sessions)[-1]
    with sessions.begin() as session:
        changed = mark_reviewed(session, lin["event_ids"] + ["no-such-event"], reviewed=True, by="key:abc",
                                now=NOW)
        assert len(changed) == 4
    again = next(i for i in _items(sessions) if i["id"] == lin["id"])
    assert again["reviewed"] and again["reviewed_at"] == "2026-11-24T12:00:00.000Z"
    assert lin["id"] not in [i["id"] for i in _items(sessions, reviewed=False)]
    assert [i["id"] for i in _items(sessions, reviewed=True)] == [lin["id"]]
    with sessions.begin() as session:
        mark_reviewed(session, lin["event_ids"][:1], reviewed=False, by="key:abc")
    assert _items(sessions, reviewed=True) == []  # one unmarked event makes the item unreviewed again


def test_retention_and_erasure_take_the_marks_and_names_with_them(sessions, stored):
    ids = [e.id for e in stored]
    with sessions.begin() as session:
        mark_reviewed(session, ids, reviewed=True, by="key:abc")
        unlink_subject(session, "s-lin")  # erasure: the recognition goes, nobody is named any more
    items = _items(sessions)
    assert all(not i["people"] for i in items)
    assert "Lin-Manuel Miranda" not in repr(items)
    assert next(i for i in items if i["track_id"] == 1 and i["camera"] == "gate")["events"] == 3
    with sessions.begin() as session:  # retention: the rows, and their marks, are deleted
        purge_events(session, 1, now=NOW + timedelta(days=2))
    assert _items(sessions) == []
