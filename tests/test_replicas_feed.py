"""The gallery change feed between two Gallery objects on one store (SQLite file and real PostgreSQL).

Each Gallery stands for a replica with its own in-memory index; B learns A's enrolments, removals, erasures,
negatives and thresholds only through the feed (``ChangeFeed.catch_up`` / the ``ChangeFollower`` thread).
Real photos, real models, real databases.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from sightline.gallery.change_feed import ChangeFeed, ChangeFollower, purge_feed
from sightline.gallery.gallery import Gallery
from sightline.store import changes_repo

SUBJECT = {"legal_basis": "contract", "purpose": "building access for staff", "retention_days": 30}


def train(faces_dir: Path, person: str) -> list[Path]:
    return sorted((faces_dir / "examples" / "knn_examples" / "train" / person).iterdir())


def probe(faces_dir: Path) -> Path:
    return faces_dir / "examples" / "knn_examples" / "test" / "obama1.jpg"


def named(gallery: Gallery, image: Path) -> set[str]:
    return {c.name for ident in gallery.identify(image, k=1) for c in ident.candidates if c.accepted}


def feed_rows(gallery: Gallery) -> list[tuple]:
    with gallery.db.connect() as connection:
        return [tuple(r) for r in connection.execute(text(
            "SELECT seq, kind, subject_id, template_ids FROM gallery_changes ORDER BY seq"))]


@pytest.fixture
def replicas(store_url, tmp_path, engine, faces_dir):
    """Two galleries on one store and one key file; B's index is built (with Biden) before A changes anything."""
    home = tmp_path / "home"
    a = Gallery.open(home, store_url, engine, actor="replica-a")
    b = Gallery.open(home, store_url, engine, actor="replica-b")
    biden = a.create_subject(name="biden", **SUBJECT)
    assert all(r.accepted for r in a.enroll(str(biden["id"]), train(faces_dir, "biden")))
    feed = ChangeFeed(b.ctx, b.search)
    feed.catch_up()  # starts at the head
    assert b.index is not None and len(b.index) == len(train(faces_dir, "biden"))  # built now, from the store
    try:
        yield a, b, feed
    finally:
        a.close()
        b.close()


def test_enrol_and_erase_on_one_replica_reach_the_other_through_the_feed(replicas, faces_dir):
    a, b, feed = replicas
    obama = a.create_subject(name="obama", **SUBJECT)
    obama_id = str(obama["id"])
    results = a.enroll(obama_id, train(faces_dir, "obama"))
    template_ids = sorted(r.template_id for r in results)
    assert named(a, probe(faces_dir)) == {"obama"}
    assert named(b, probe(faces_dir)) == set()  # B has not read the feed yet: its own index is unchanged

    rows = feed_rows(a)
    assert [r[1] for r in rows][-len(template_ids):] == ["enrol"] * len(template_ids)
    for row in rows:  # ids only: no name, no vector
        assert "obama" not in " ".join(str(v) for v in row)
    assert feed.catch_up()["applied"] == len(template_ids)
    assert named(b, probe(faces_dir)) == {"obama"}
    assert feed.catch_up()["applied"] == 0  # applied once

    a.erase(obama_id)
    assert feed.catch_up()["applied"] == 1
    assert named(b, probe(faces_dir)) == set()
    assert b.search.name(obama_id) == ""  # the names cache forgot them too
    assert all(t not in b.search.state().subject_of for t in template_ids)
    # the erased subject's earlier feed rows are gone; the erase row keeps ids only
    remaining = [r for r in feed_rows(a) if r[2] == obama_id]
    assert [(r[1], r[3]) for r in remaining] == [("erase", ",".join(map(str, template_ids)))]


def test_template_removal_negatives_and_thresholds_follow(replicas, faces_dir):
    a, b, feed = replicas
    obama_id = str(a.create_subject(name="obama", **SUBJECT)["id"])
    results = a.enroll(obama_id, train(faces_dir, "obama"))
    feed.catch_up()
    a.subjects.set_threshold(obama_id, 0.9)
    feed.catch_up()
    assert b.search.subject_threshold(obama_id) == pytest.approx(0.9)
    vector = b.faces.detect(probe(faces_dir), embed=True)[0].embedding
    assert b.search.negative_score(obama_id, vector) is None
    a.corrections.mark_not_subject(obama_id, probe(faces_dir))
    feed.catch_up()
    assert b.search.negative_score(obama_id, vector) == pytest.approx(1.0, abs=1e-3)  # that very face
    a.enrolment.remove_template(obama_id, results[0].template_id)
    feed.catch_up()
    assert results[0].template_id not in b.search.state().subject_of
    assert results[-1].template_id in b.search.state().subject_of


def test_the_follower_thread_applies_an_erasure_within_two_seconds(replicas, faces_dir):
    a, b, feed = replicas
    obama_id = str(a.create_subject(name="obama", **SUBJECT)["id"])
    a.enroll(obama_id, train(faces_dir, "obama"))
    follower = ChangeFollower(feed).start()
    try:
        deadline = time.monotonic() + 5
        while b.search.name(obama_id) != "obama":
            assert time.monotonic() < deadline, "the enrolment did not reach replica B"
            time.sleep(0.02)
        started = time.monotonic()
        a.erase(obama_id)
        while b.search.name(obama_id):
            assert time.monotonic() - started < 2.0, "the erasure did not reach replica B within 2 s"
            time.sleep(0.01)
        assert named(b, probe(faces_dir)) == set()
    finally:
        follower.stop()


def test_feed_rows_are_exported_and_pruned_by_retention(replicas, faces_dir, tmp_path):
    import json

    a, _, _ = replicas
    obama_id = str(a.create_subject(name="obama", **SUBJECT)["id"])
    a.enroll(obama_id, train(faces_dir, "obama")[:1])
    bundle = a.export(obama_id, tmp_path / "export")
    exported = json.loads((bundle / "subject.json").read_text())["change_feed"]
    assert [row["kind"] for row in exported] == ["enrol"]
    stored = len(feed_rows(a))
    with a.sessions.begin() as session:
        assert purge_feed(session, datetime.now(UTC)) == 0  # rows younger than the keep time stay
        head = changes_repo.latest_seq(session)
        assert purge_feed(session, datetime.now(UTC) + timedelta(hours=1)) == stored
    assert feed_rows(a) == []
    a.subjects.set_threshold(obama_id, 0.95)
    assert feed_rows(a)[0][0] > head  # a pruned feed never hands out a seq again


def test_the_retention_sweep_prunes_the_feed(replicas, faces_dir):
    from sightline.jobs.hooks import install_retention_purges
    from sightline.privacy.retention import sweep

    a, _, _ = replicas
    install_retention_purges()
    stored = len(feed_rows(a))
    assert stored > 0
    assert sweep(a, actor="pytest").purged["gallery_changes"] == 0  # young rows stay
    report = sweep(a, actor="pytest", now=datetime.now(UTC) + timedelta(hours=1))
    assert report.purged["gallery_changes"] == stored and feed_rows(a) == []


def test_postgresql_wakes_listeners_at_commit_not_before(postgres_server, tmp_path, engine):
    """NOTIFY is the wake-up: nothing while the change's transaction is open, at once when it commits."""
    with Gallery.open(tmp_path / "home", postgres_server.new_database(), engine) as gallery:
        subject_id = str(gallery.create_subject(name="someone", **SUBJECT)["id"])
        with changes_repo.listener(gallery.db) as listener:
            assert listener is not None and not listener.wait(0.2)
            with gallery.sessions.begin() as session:
                changes_repo.record(session, "subject", subject_id)
                assert not listener.wait(0.5)  # not committed yet: nobody is woken, nobody reads it
            started = time.monotonic()
            assert listener.wait(5.0)
            assert time.monotonic() - started < 0.5
            assert not listener.wait(0.2)  # one wake-up per notice


def test_a_replica_away_longer_than_the_feed_is_kept_reconciles_with_the_store(replicas, faces_dir):
    from sightline.gallery import change_feed

    a, b, feed = replicas
    obama_id = str(a.create_subject(name="obama", **SUBJECT)["id"])
    a.enroll(obama_id, train(faces_dir, "obama"))
    with a.sessions.begin() as session:  # B was away: retention pruned the rows it never read
        purge_feed(session, datetime.now(UTC) + timedelta(hours=1))
    feed.last_read -= change_feed.KEEP_MINUTES * 60
    done = feed.catch_up()
    assert done["resynced"] == 1 and done["added"] == len(train(faces_dir, "obama"))
    assert named(b, probe(faces_dir)) == {"obama"}


def test_concurrent_writers_never_let_a_reader_skip_a_seq(postgres_server, tmp_path, engine):
    """A row becomes visible only after every smaller seq, so "apply everything after the last seq seen" misses
    nothing, even with writers whose transactions overlap (PostgreSQL draws sequence values before commit)."""
    import random
    import threading

    with Gallery.open(tmp_path / "home", postgres_server.new_database(), engine) as gallery:
        subject_id = str(gallery.create_subject(name="someone", **SUBJECT)["id"])

        def writer(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(15):
                with gallery.sessions.begin() as session:
                    changes_repo.record(session, "subject", subject_id)
                    time.sleep(rng.uniform(0.0, 0.03))  # commit late, sometimes after a later writer's row

        threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        seen, last = [], 0
        while True:
            finished = not any(t.is_alive() for t in threads)  # then this read is the last one needed
            with gallery.sessions() as session:
                rows = changes_repo.changes_after(session, last)
            seen += [r.seq for r in rows]
            last = rows[-1].seq if rows else last
            if finished and not rows:
                break
            time.sleep(0.002)
        with gallery.sessions() as session:
            stored = [r.seq for r in changes_repo.changes_after(session, 0)]
        assert len(stored) == 45 and seen == stored
