"""The server's jobs: the scheduler on real threads, and retention run by a real ``sightline serve`` process."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from sightline.jobs import Scheduler


def _wait(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class _Counter:
    """A real job body: counts its calls (and the thread they ran on); fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.calls, self.fail, self.threads = 0, fail, set()

    def __call__(self) -> dict[str, int]:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError(f"boom {self.calls}")
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
    bad, good = _Counter(fail=True), _Counter()
    scheduler.add("bad", bad, every_s=0.05)
    scheduler.add("good", good, every_s=0.05)
    with caplog.at_level(logging.ERROR, logger="sightline.jobs.scheduler"):
        scheduler.start()
        try:
            assert _wait(lambda: bad.calls >= 3 and good.calls >= 3)
        finally:
            scheduler.stop(timeout=2)
    bad_status = scheduler.status()["bad"]
    assert bad_status["failures"] == bad_status["runs"] == bad.calls
    assert bad_status["last_error"].startswith("RuntimeError: boom")
    assert scheduler.status()["good"]["failures"] == 0 and scheduler.status()["good"]["last_error"] is None
    assert any("job bad failed" in r.getMessage() for r in caplog.records)


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
    scheduler.start()
    assert _wait(lambda: hourly.calls == 1)
    started = time.monotonic()
    scheduler.stop(timeout=5)
    assert time.monotonic() - started < 1.0
    assert not service.thread.is_alive()
    assert not any(t.name.startswith("sightline-job-") for t in threading.enumerate())
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
