"""The server's jobs: the scheduler on real threads, and retention run by a real ``sightline serve`` process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from live_servers import free_port

from sightline.events.store import EventRow
from sightline.gallery.gallery import Gallery
from sightline.jobs import Scheduler
from sightline.jobs.leader import LeaderLock, leader_only
from sightline.plates.hashing import PlateHasher
from sightline.plates.lists import PlateLists
from sightline.store.plates_repo import PlateListEntryRow
from sightline.store.tables import AuditEntry, Subject


def _wait(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class _Counter:
    """A real job body: counts its calls (and the thread they ran on); fails when told to."""

    def __init__(self, fail: bool = False, error: str | None = None) -> None:
        self.calls, self.fail, self.error, self.threads = 0, fail, error, set()

    def __call__(self) -> dict[str, int]:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError(self.error or f"boom {self.calls}")
        return {"calls": self.calls}


def test_jobs_run_at_start_then_on_their_interval_and_report_status():
    scheduler = Scheduler()
    fast, later = _Counter(), _Counter()
    scheduler.add("fast", fast, every_s=0.05)
    scheduler.add("later", later, every_s=0.3, at_start=False)
    scheduler.start()
    try:
        assert _wait(lambda: fast.calls >= 4)
        assert later.calls <= 1  # no run at start; the first comes after its interval
        assert _wait(lambda: later.calls >= 1)
    finally:
        scheduler.stop(timeout=2)
    status = scheduler.status()
    assert status["fast"]["runs"] == fast.calls and status["fast"]["failures"] == 0
    assert status["fast"]["last_result"] == {"calls": fast.calls} and status["fast"]["last_run"].endswith("Z")
    assert fast.threads == {"sightline-job-fast"}


def test_a_failing_job_is_logged_and_retried_while_the_others_keep_running(caplog):
    scheduler = Scheduler()
    bad, good = _Counter(fail=True, error="database is down"), _Counter()
    scheduler.add("bad", bad, every_s=0.05)
    scheduler.add("good", good, every_s=0.05)
    with caplog.at_level(logging.WARNING, logger="sightline.jobs.scheduler"):
        scheduler.start()
        try:
            assert _wait(lambda: bad.calls >= 3 and good.calls >= 3)
        finally:
            scheduler.stop(timeout=2)
    bad_status = scheduler.status()["bad"]
    assert bad_status["failures"] == bad_status["runs"] == bad.calls
    assert bad_status["last_error"] == "RuntimeError: database is down"
    assert scheduler.status()["good"]["failures"] == 0 and scheduler.status()["good"]["last_error"] is None
    failures = [r for r in caplog.records if r.name == "sightline.jobs.scheduler"]
    assert all("job bad failed" in r.getMessage() for r in failures) and len(failures) == bad.calls
    assert [r.exc_info is not None for r in failures] == [True] + [False] * (bad.calls - 1)  # one traceback


def test_stop_is_prompt_runs_the_at_stop_jobs_once_and_stops_services_first():
    order: list[str] = []

    class Service:  # a real long-running part: its own thread until stopped
        def __init__(self) -> None:
            self.done = threading.Event()
            self.thread = threading.Thread(target=self.done.wait, daemon=True)

        def start(self) -> Service:
            self.thread.start()
            order.append("service started")
            return self

        def stop(self, timeout: float = 10.0) -> None:
            self.done.set()
            self.thread.join(timeout)
            order.append("service stopped")

    scheduler = Scheduler()
    hourly = _Counter()
    scheduler.add("hourly", hourly, every_s=3600)
    scheduler.add("checkpoint", lambda: order.append("checkpoint"), every_s=3600, at_start=False, at_stop=True)
    service = scheduler.add_service("cameras", Service())
    earlier = set(threading.enumerate())  # other tests' servers may still be winding down their own jobs
    scheduler.start()
    assert _wait(lambda: hourly.calls == 1)
    started = time.monotonic()
    scheduler.stop(timeout=5)
    assert time.monotonic() - started < 1.0
    assert not service.thread.is_alive()
    assert not any(t.name.startswith("sightline-job-") for t in set(threading.enumerate()) - earlier)
    assert order == ["service started", "service stopped", "checkpoint"]
    assert hourly.calls == 1 and scheduler.status()["checkpoint"]["runs"] == 1


def test_run_now_returns_the_result_and_raises_errors_after_recording_them():
    scheduler = Scheduler()
    scheduler.add("ok", _Counter(), every_s=0)
    scheduler.add("bad", _Counter(fail=True), every_s=0)
    assert scheduler.run_now("ok") == {"calls": 1}
    with pytest.raises(RuntimeError, match="boom 1"):
        scheduler.run_now("bad")
    assert scheduler.status()["bad"]["failures"] == 1
    with pytest.raises(KeyError, match="no job named"):
        scheduler.run_now("missing")
    with pytest.raises(ValueError, match="already scheduled"):
        scheduler.add("ok", _Counter(), every_s=1)
    with pytest.raises(ValueError, match="every_s"):
        scheduler.add("negative", _Counter(), every_s=-1)


# -- one process per data home runs retention and checkpoints ---------------------------------------------------
def test_only_one_holder_of_the_leader_lock_runs_the_singleton_jobs(tmp_path):
    first, second = LeaderLock(tmp_path / "jobs.lock"), LeaderLock(tmp_path / "jobs.lock")
    calls: list[str] = []
    job_a = leader_only(first, lambda: calls.append("a") or "ran a")
    job_b = leader_only(second, lambda: calls.append("b") or "ran b")
    assert job_a() == "ran a" and job_a() == "ran a"
    assert job_b() == {"skipped": "another server process of this data home runs this job"}
    first.release()  # the leader went away: the other process takes over at its next run
    assert job_b() == "ran b"
    assert calls == ["a", "a", "b"]
    second.release()


# -- the real server and the real CLI ---------------------------------------------------------------------------
def _subject_with_events(home, tmp_path) -> tuple[str, object]:
    """A subject (no photos needed) seen once by a camera, with the unblurred snapshot of that sighting."""
    snapshot = tmp_path / "sighting.jpg"
    snapshot.write_bytes(b"\xff\xd8 the person, unblurred")
    with Gallery.open(home, create_key=True) as gallery:
        subject = gallery.create_subject(name="Day Visitor", legal_basis="contract", purpose="one-day pass",
                                         retention_days=1, enrolled_by="pytest")
        with gallery.sessions.begin() as session:
            session.add(EventRow(id="seen-1", type="person_seen", camera="door", label="person", track_id=1,
                                 start_time=datetime.now(UTC), subject_id=str(subject["id"]),
                                 subject_name="Day Visitor", snapshot=str(snapshot), data={}))
    return str(subject["id"]), snapshot


def _cli_env(home) -> dict[str, str]:
    return {**os.environ, "SIGHTLINE_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def test_the_plain_server_erases_expired_subjects_on_its_schedule_and_audits_it(tmp_path):
    """`sightline serve` without --cameras (what `make run` starts): no CLI call, the running server erases."""
    home = tmp_path / "home"
    subject_id, snapshot = _subject_with_events(home, tmp_path)
    with Gallery.open(home) as gallery:  # another store with retention dates: a plate on the watch list
        lists = PlateLists(gallery.sessions, gallery.audit, PlateHasher.load(gallery.home))
        plate = str(lists.add(list_kind="watch", plate="AB123CD", legal_basis="legitimate_interest",
                              purpose="stolen car report", actor="pytest", retention_days=1)["id"])
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sightline", "serve", "--home", str(home), "--port", str(port),
                               "--retention-every", "0.02", "--log-level", "warning"],
                              env=_cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait(lambda: _answers(port) or server.poll() is not None, timeout=120), "server did not start"
        assert server.poll() is None, server.stderr.read().decode(errors="replace")
        with Gallery.open(home) as gallery:
            with gallery.sessions() as session:
                assert session.get(Subject, subject_id) is not None  # not expired yet: kept
            with gallery.sessions.begin() as session:  # a day passes
                session.get(Subject, subject_id).retain_until = datetime.now(UTC) - timedelta(minutes=1)
                session.get(PlateListEntryRow, plate).retain_until = datetime.now(UTC) - timedelta(minutes=1)

            def erased() -> bool:
                with gallery.sessions() as session:
                    return session.get(Subject, subject_id) is None

            def sweeps() -> list[dict]:
                with gallery.sessions() as session:
                    rows = session.query(AuditEntry).filter(AuditEntry.action == "retention_sweep")
                    return [json.loads(row.details) for row in rows.order_by(AuditEntry.seq)]

            def plate_kept() -> bool:
                with gallery.sessions() as session:
                    return session.get(PlateListEntryRow, plate) is not None

            assert _wait(erased, timeout=30), "the running server did not erase the expired subject"
            assert _wait(lambda: not plate_kept(), timeout=10), "the plate store was left out of the sweep"
            assert _wait(lambda: any(s["erased"] == 1 for s in sweeps()), timeout=10)
            assert _wait(lambda: len(sweeps()) >= 2, timeout=10)  # at start and on its schedule, not once
            with gallery.sessions() as session:
                assert session.get(EventRow, "seen-1") is None
                rows = session.query(AuditEntry).filter(AuditEntry.subject_id == subject_id,
                                                        AuditEntry.action == "erase").all()
            assert not snapshot.exists()  # the erasure hook ran in the server process
            assert len(rows) == 1 and rows[0].actor == "server-retention"
            details = json.loads(rows[0].details)
            assert details["reason"] == "retention_expired" and details["related"]["events"]["events_deleted"] == 1
            erase_seq = rows[0].seq
    finally:
        server.terminate()  # a clean stop: the jobs sign one more audit checkpoint
        server.wait(timeout=30)
        server.stderr.close()
    with Gallery.open(home) as gallery:
        newest = gallery.audit.checkpoints.newest()
        assert newest is not None and newest.seq >= erase_seq  # the erasure is sealed outside the database
        assert gallery.audit.verify().ok


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_no_store_is_registered_behind_the_callers_back_and_the_cli_registers_the_event_history(tmp_path):
    """Importing the gallery registers no erasure hook; the CLI registers the event history at its start."""
    probe = ("import sightline.gallery.gallery, sightline.privacy.retention\n"
             "from sightline.privacy.erasure import registered_erasure_hooks\n"
             "print(registered_erasure_hooks())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"

    home = tmp_path / "home"
    subject_id, snapshot = _subject_with_events(home, tmp_path)
    erase = subprocess.run([sys.executable, "-m", "sightline", "gallery", "erase", subject_id, "--yes", "--json",
                            "--home", str(home)], capture_output=True, text=True, timeout=120, env=_cli_env(home))
    assert erase.returncode == 0, erase.stderr
    assert not snapshot.exists()
    with Gallery.open(home) as gallery, gallery.sessions() as session:
        assert session.get(EventRow, "seen-1") is None


def test_audit_checkpoints_follow_the_chain_head_on_their_schedule(tmp_path):
    from sightline.jobs.server import build_server_jobs

    with Gallery.open(tmp_path / "home") as gallery:
        jobs = build_server_jobs(gallery, retention_every_s=0, checkpoint_every_s=0.1).start()
        try:
            for n in range(3):
                head = gallery.audit.record(actor="pytest", action="test.step", details={"n": n}).seq

                def sealed(seq: int = head) -> bool:
                    newest = gallery.audit.checkpoints.newest()
                    return newest is not None and newest.seq == seq

                assert _wait(sealed, timeout=10), f"no checkpoint reached seq {head}"
        finally:
            jobs.stop(timeout=5)
        assert jobs.status()["audit-checkpoint"]["failures"] == 0
        assert jobs.status()["retention"]["runs"] == 0  # retention_every_s=0: not scheduled
        assert gallery.audit.verify().ok
