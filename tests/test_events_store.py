"""Events table: created by the Alembic migrations, queried with filters and paging, purged, unlinked on erasure.

Runs on a real SQLite file and a real PostgreSQL server (the ``store_url`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select

from sightline.errors import NotFoundError
from sightline.events.models import Event, EventError, EventType
from sightline.events.store import (
    EventRow,
    apply_retention,
    count_events,
    get_event,
    purge_events,
    purge_snapshots,
    query_events,
    save_event,
    unlink_subject,
)
from sightline.store import create_db_engine, session_factory, upgrade_to_head
from sightline.store.tables import Subject

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(store_url):
    engine = create_db_engine(store_url)
    upgrade_to_head(engine)
    yield session_factory(engine)
    engine.dispose()


def add_subject(sessions, subject_id: str, name: str) -> None:
    with sessions.begin() as session:
        session.add(Subject(id=subject_id, name=name, legal_basis="consent", purpose="test", evidence=None,
                            enrolled_by="tests", created_at=NOW, retain_until=NOW + timedelta(days=365)))


def ev(kind: EventType, camera: str = "gate", label: str = "person", *, minutes_ago: float = 0, **extra) -> Event:
    return Event(kind, camera, label, start_time=NOW - timedelta(minutes=minutes_ago), **extra)


@pytest.fixture
def populated(sessions, tmp_path):
    add_subject(sessions, "s-lin", "Lin-Manuel Miranda")
    add_subject(sessions, "s-alex", "Alex Lacamoire")
    snap = tmp_path / "lin.jpg"
    snap.write_bytes(b"jpeg")
    events = [
        ev(EventType.TRACK_START, minutes_ago=50, track_id=1),
        ev(EventType.PERSON_SEEN, minutes_ago=49, track_id=1, subject_id="s-lin", subject_name="Lin-Manuel Miranda",
           score=0.8, snapshot=str(snap)),
        ev(EventType.TRACK_END, minutes_ago=50, track_id=1, end_time=NOW - timedelta(minutes=40), snapshot=str(snap)),
        ev(EventType.PERSON_SEEN, "door", minutes_ago=30, track_id=4, subject_id="s-alex",
           subject_name="Alex Lacamoire", score=0.7),
        ev(EventType.UNKNOWN_PERSON, "door", minutes_ago=20, track_id=5),
        ev(EventType.TRACK_START, "door", "car", minutes_ago=10, track_id=6),
        ev(EventType.ZONE_ENTER, "door", "car", minutes_ago=9, track_id=6, zone="driveway"),
        ev(EventType.PLATE_READ, "door", "car", minutes_ago=8, track_id=6, data={"plate": "AB12CDE"}),
    ]
    with sessions.begin() as session:
        for e in events:
            save_event(session, e)
    return events, snap


def test_migrations_create_the_events_table(sessions):
    with sessions() as session:
        inspector = inspect(session.get_bind())
        columns = {c["name"] for c in inspector.get_columns("events")}
        indexes = {i["name"] for i in inspector.get_indexes("events")}
    assert {"id", "type", "camera", "label", "track_id", "zone", "start_time", "end_time", "score", "subject_id",
            "subject_name", "snapshot", "data"} <= columns
    assert {"ix_events_camera", "ix_events_start_time", "ix_events_subject_id"} <= indexes


def test_round_trip_keeps_every_field(sessions, populated):
    events, _ = populated
    with sessions() as session:
        for original in events:
            assert get_event(session, original.id).to_dict() == original.to_dict()
        with pytest.raises(NotFoundError):
            get_event(session, "no-such-id")


def test_filters_and_paging(sessions, populated):
    events, _ = populated
    with sessions() as session:
        assert count_events(session) == 8
        gate = query_events(session, camera="gate")
        assert gate[0].type == EventType.PERSON_SEEN  # newest first
        assert {e.type for e in gate[1:]} == {EventType.TRACK_START, EventType.TRACK_END}
        assert count_events(session, camera="gate") == 3
        assert count_events(session, label="car") == 3
        assert [e.subject_name for e in query_events(session, subject_id="s-lin")] == ["Lin-Manuel Miranda"]
        assert count_events(session, type="person_seen") == 2
        assert count_events(session, type=["person_seen", "unknown_person"]) == 3
        assert [e.data for e in query_events(session, type="plate_read")] == [{"plate": "AB12CDE"}]
        assert count_events(session, zone="driveway") == 1
        window = query_events(session, since=NOW - timedelta(minutes=30), until=NOW - timedelta(minutes=9))
        assert [e.type for e in window] == [EventType.TRACK_START, EventType.UNKNOWN_PERSON, EventType.PERSON_SEEN]
        newest = query_events(session, limit=3)
        assert [e.id for e in newest] == [events[7].id, events[6].id, events[5].id]
        page2 = query_events(session, limit=3, offset=3)
        assert [e.id for e in page2] == [events[4].id, events[3].id, events[1].id]
        oldest = query_events(session, limit=2, newest_first=False)
        assert {e.start_time for e in oldest} == {NOW - timedelta(minutes=50)}
        all_ids = [e.id for e in query_events(session, limit=3, offset=0)] + \
            [e.id for e in query_events(session, limit=3, offset=3)] + \
            [e.id for e in query_events(session, limit=3, offset=6)]
        assert sorted(all_ids) == sorted(e.id for e in events)  # pages neither overlap nor skip


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 5000}, {"offset": -1}, {"type": "birthday"},
                                 {"since": NOW, "until": NOW - timedelta(days=1)}])
def test_bad_queries_are_refused_clearly(sessions, bad):
    with sessions() as session, pytest.raises(EventError) as info:
        query_events(session, **bad)
    assert info.value.code == "bad_query"


def test_purge_removes_old_events_and_their_unshared_snapshots(sessions, tmp_path):
    old_snap, shared_snap = tmp_path / "old.jpg", tmp_path / "shared.jpg"
    old_snap.write_bytes(b"x")
    shared_snap.write_bytes(b"x")
    with sessions.begin() as session:
        save_event(session, ev(EventType.TRACK_END, minutes_ago=40 * 1440, snapshot=str(old_snap)))
        save_event(session, ev(EventType.TRACK_START, minutes_ago=31 * 1440, snapshot=str(shared_snap)))
        save_event(session, ev(EventType.TRACK_END, minutes_ago=29 * 1440, snapshot=str(shared_snap)))
        save_event(session, ev(EventType.TRACK_START, minutes_ago=60))
    with sessions.begin() as session:
        result = purge_events(session, 30, now=NOW)
    assert result.events_deleted == 2
    assert not old_snap.exists() and shared_snap.exists()  # still used by the newer event
    with sessions() as session:
        assert count_events(session) == 2
    with sessions.begin() as session:
        result = purge_snapshots(session, 7, now=NOW)
    assert result.events_unlinked == 1 and not shared_snap.exists()
    with sessions() as session:
        assert count_events(session) == 2
        assert [e.snapshot for e in query_events(session)] == [None, None]
    with sessions.begin() as session, pytest.raises(EventError):
        purge_events(session, 0)


def test_apply_retention_uses_both_periods(sessions, tmp_path):
    snap = tmp_path / "s.jpg"
    snap.write_bytes(b"x")
    with sessions.begin() as session:
        save_event(session, ev(EventType.TRACK_END, minutes_ago=10 * 1440, snapshot=str(snap)))
        save_event(session, ev(EventType.TRACK_END, minutes_ago=100 * 1440))
    with sessions.begin() as session:
        result = apply_retention(session, event_days=30, snapshot_days=7, now=NOW)
    assert result.to_dict() == {"events_deleted": 1, "events_unlinked": 1, "snapshots_deleted": 1}
    assert not snap.exists()


def test_unlink_subject_erases_recognitions_and_unblurred_snapshots(sessions, populated):
    events, snap = populated
    with sessions.begin() as session:
        result = unlink_subject(session, "s-lin")
    assert result.events_deleted == 1 and not snap.exists()
    with sessions() as session:
        assert count_events(session, subject_id="s-lin") == 0
        assert get_event(session, events[2].id).snapshot is None  # the track_end that shared the snapshot
        assert get_event(session, events[0].id).type == EventType.TRACK_START  # the track itself stays
        names = set(session.execute(select(EventRow.subject_name)).scalars())
        assert names == {None, "Alex Lacamoire"}
        assert count_events(session) == 7


def test_deleting_a_subject_cascades_to_its_recognitions(store_url, sessions, populated):
    with sessions.begin() as session:
        session.delete(session.get(Subject, "s-alex"))
    with sessions() as session:
        assert count_events(session, type="person_seen") == 1
        assert count_events(session, subject_id="s-alex") == 0


def test_event_model_refuses_names_outside_recognitions():
    with pytest.raises(EventError, match="only person_seen"):
        Event(EventType.UNKNOWN_PERSON, "gate", "person", subject_id="s1")
    with pytest.raises(EventError, match="only person_seen"):
        Event(EventType.TRACK_END, "gate", "person", subject_name="Someone")
    with pytest.raises(EventError, match="subject"):
        Event(EventType.PERSON_SEEN, "gate", "person")
    with pytest.raises(EventError, match="zone"):
        Event(EventType.ZONE_EXIT, "gate", "person")
    with pytest.raises(EventError, match="unknown event type"):
        Event("birthday", "gate", "person")
    with pytest.raises(EventError, match="before"):
        Event(EventType.TRACK_END, "gate", "person", start_time=NOW, end_time=NOW - timedelta(seconds=1))
    e = Event(EventType.TRACK_END, "gate", "person", start_time=NOW, end_time=NOW + timedelta(seconds=2))
    assert e.to_dict()["start_time"] == "2026-11-24T12:00:00.000Z"
    assert Event.from_dict(e.to_dict()) == e
