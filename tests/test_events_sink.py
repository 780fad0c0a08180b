"""EventSink: one event to the store and the audit chain (real SQLite), failures counted, never raised."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sightline.events.models import Event, EventType
from sightline.events.sink import EventSink
from sightline.events.store import count_events, get_event
from sightline.privacy.audit import AuditLog
from sightline.store import create_db_engine, session_factory, upgrade_to_head
from sightline.store.tables import Subject

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'sightline.db'}")
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(Subject(id="s-lin", name="Lin-Manuel Miranda", legal_basis="consent", purpose="test",
                            evidence=None, enrolled_by="tests", created_at=NOW, retain_until=NOW + timedelta(days=1)))
    yield sessions
    engine.dispose()


def test_events_are_stored_and_recognitions_audited(sessions):
    audit = AuditLog(sessions)
    sink = EventSink(sessions, audit=audit, actor="camera:gate")
    seen = Event(EventType.PERSON_SEEN, "gate", "person", track_id=3, score=0.72, subject_id="s-lin",
                 subject_name="Lin-Manuel Miranda")
    unknown = Event(EventType.UNKNOWN_PERSON, "gate", "person", track_id=4, score=0.31)
    start = Event(EventType.TRACK_START, "gate", "person", track_id=3)
    assert all(sink.emit(e) for e in (start, seen, unknown))
    with sessions() as session:
        assert count_events(session) == 3
        assert get_event(session, seen.id).subject_name == "Lin-Manuel Miranda"
    rows = [r for r in audit.tail(10) if r.action == "identify"]
    assert [(r.actor, r.subject_id, r.outcome) for r in rows] == [("camera:gate", "s-lin", "match"),
                                                                  ("camera:gate", None, "no_match")]
    assert json.loads(rows[0].details)["event_id"] == seen.id
    assert audit.verify().ok
    assert sink.stats() == {"emitted": 3, "stored": 3, "store_failed": 0, "output_failed": 0, "duplicates": 0}


def test_a_replayed_run_stores_each_event_once(sessions):
    """With a run key (a camera on a cluster, replayed after a restart) an event made again is skipped, not stored
    or audited twice; another run, or an event that differs, is stored."""
    audit = AuditLog(sessions)
    start = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)

    def events() -> list[Event]:
        return [Event(EventType.TRACK_START, "gate", "person", start_time=start, track_id=1),
                Event(EventType.PERSON_SEEN, "gate", "person", start_time=start + timedelta(seconds=1), track_id=1,
                      score=0.7, subject_id="s-lin", subject_name="Lin-Manuel Miranda")]

    first = EventSink(sessions, audit=audit, run_key="run-1")
    assert all(first.emit(e) for e in events())
    replay = EventSink(sessions, audit=audit, run_key="run-1")
    replayed = events()
    replayed[1].score = 0.7001  # another CPU may round the score differently: still the same event
    assert all(replay.emit(e) for e in replayed)
    assert replay.stats()["duplicates"] == 2 and replay.stats()["stored"] == 0
    later = Event(EventType.TRACK_START, "gate", "person", start_time=start + timedelta(seconds=5), track_id=2)
    assert replay.emit(later) and replay.stats()["stored"] == 1
    other_run = EventSink(sessions, audit=audit, run_key="run-2")
    assert all(other_run.emit(e) for e in events())
    with sessions() as session:
        assert count_events(session) == 5
    assert len([r for r in audit.tail(20) if r.action == "identify"]) == 2
    assert audit.verify().ok


def test_a_store_failure_is_counted_not_raised(sessions, caplog):
    sink = EventSink(sessions)
    # The subject was erased in the meantime: the foreign key refuses the recognition.
    ghost = Event(EventType.PERSON_SEEN, "gate", "person", subject_id="s-erased", subject_name="Gone")
    assert sink.emit(ghost) is False
    assert sink.stats()["store_failed"] == 1 and sink.stats()["emitted"] == 1
    assert "could not store event" in caplog.text
    with sessions() as session:
        assert count_events(session) == 0
