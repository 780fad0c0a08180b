"""Issue 8, half-enrolled subjects: SIGKILL of a real `sightline serve` during a batch of API enrolments.

Each request creates a subject with three photos. Before the fix the subject row was committed first and
each photo after it, so a kill part-way left a subject with 0 or 1 of its templates although the client
got an error. Now a subject and its photos land in one transaction: whole, or not at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from api_support import EXAMPLES, MODELS
from browser_support import start_serve, wait_ready

from sightline.gallery.gallery import Gallery

PHOTOS = [EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg", EXAMPLES / "knn_examples" / "test" / "obama1.jpg"]
FIELDS = {"legal_basis": "contract", "purpose": "kill test: door access", "retention_days": "30"}


def _enrol(base: str, token: str, number: int) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/subjects", headers={"Authorization": f"Bearer {token}"},
                      data={**FIELDS, "name": f"Person {number}"},
                      files=[("image", (p.name, p.read_bytes())) for p in PHOTOS], timeout=120)


def test_sigkill_during_api_enrolment_leaves_no_half_enrolled_subject(tmp_path, engine):
    home = tmp_path / "home"
    env = {**os.environ, "SIGHTLINE_MODELS": str(MODELS)}
    init = subprocess.run([sys.executable, "-m", "sightline", "init", "--home", str(home), "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    token = json.loads(init.stdout)["admin_key"]
    process, base = start_serve(home)
    try:
        wait_ready(process, base, time.monotonic() + 180)
        durations = []
        for number in range(2):
            started = time.monotonic()
            assert _enrol(base, token, number).status_code == 201
            durations.append(time.monotonic() - started)
        answers: list[int | str] = []
        client = threading.Thread(target=lambda: answers.append(_status(base, token)))
        client.start()
        time.sleep(0.5 * sum(durations) / len(durations))  # half-way through the third subject's photos
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        client.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert answers, "the third client finished (with an error, normally: the kill lands while it is in flight)"

    with Gallery.open(home, None, engine, create_key=False) as gallery:
        subjects = gallery.list_subjects()
        names = [s["name"] for s in subjects]
        assert names[:2] == ["Person 0", "Person 1"] and len(names) <= 3, subjects
        if answers[0] == 201:
            assert names == ["Person 0", "Person 1", "Person 2"]
        assert all(s["templates"] == len(PHOTOS) for s in subjects), subjects  # whole, never half
        assert len(gallery.index) == len(subjects) * len(PHOTOS)
        assert gallery.audit.verify().ok


def _status(base: str, token: str) -> int | str:
    try:
        return _enrol(base, token, 2).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__
