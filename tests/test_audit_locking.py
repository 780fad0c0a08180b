"""Reads never hold SQLite's write lock: an open read, or an audit verify in progress, does not stall writers.

Real SQLite files (the default store) and a real gallery with the real face models.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from sightline.gallery.gallery import Gallery
from sightline.privacy.audit import AuditLog
from sightline.store.db import open_engine, session_factory

WRITE_WITHIN_S = 10.0  # the busy timeout is 30 s: a writer that waited for the lock would blow this


def timed_in_thread(fn) -> dict:
    """Run ``fn`` in a thread and wait at most WRITE_WITHIN_S; report whether it finished, its result or error."""
    outcome: dict = {}

    def run() -> None:
        started = time.monotonic()
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported through the assertion
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WRITE_WITHIN_S)
    outcome["finished"] = not thread.is_alive()
    return outcome


def test_an_open_read_transaction_does_not_block_a_writer(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'sightline.db'}")
    sessions = session_factory(engine)
    log = AuditLog(sessions)
    log.record(actor="tester", action="identify")
    with sessions() as reader:
        assert reader.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1  # read transaction open
        write = timed_in_thread(lambda: log.record(actor="tester", action="enrol"))
        assert reader.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1  # still its snapshot
    engine.dispose()
    assert write["finished"] and "error" not in write, write
    assert write["seconds"] < 2.0


def test_a_verify_in_progress_blocks_neither_enrolment_nor_identify(tmp_path, engine, faces_dir):
    gallery = Gallery.open(tmp_path / "home", engine=engine, actor="tester")
    train = faces_dir / "examples" / "knn_examples" / "train"
    subject = gallery.create_subject(name="Joe Biden", legal_basis="consent", purpose="locking test",
                                     evidence="form-1", retention_days=30)
    with gallery.sessions.begin() as session:
        gallery.audit.append_many(session, ({"actor": "load", "action": "identify", "outcome": "no_match",
                                             "details": {"i": i}} for i in range(3000)))
    rows_before = gallery.audit.verify().rows
    during: dict = {}

    def write_while_verifying(rows_read: int) -> None:
        if during:
            return
        during["rows_read"] = rows_read
        during["enrol"] = timed_in_thread(lambda: gallery.enroll_image(str(subject["id"]),
                                                                       train / "biden" / "biden.jpg"))
        during["identify"] = timed_in_thread(lambda: gallery.identify(faces_dir / "examples" / "biden.jpg"))

    report = gallery.audit.verify(chunk=500, progress=write_while_verifying)
    assert during["rows_read"] == 500  # the writes happened with the verify's read transaction open
    for name in ("enrol", "identify"):
        assert during[name]["finished"] and "error" not in during[name], (name, during[name])
    assert during["enrol"]["result"].accepted
    assert report.ok and report.rows == rows_before  # the verify read one snapshot, without the new rows
    after = gallery.audit.verify()
    assert after.ok and after.rows > rows_before
    gallery.close()
