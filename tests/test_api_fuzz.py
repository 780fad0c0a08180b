"""Property-based fuzzing of every operation in /openapi.json with schemathesis: no input may cause a 5xx.

Runs against its own app (fresh temporary data folder, real models) with an admin key, so every
operation is reachable; examples per operation are bounded to keep the run short on two cores.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from api_support import make_app
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 25
HOME = Path(tempfile.mkdtemp(prefix="sightline-fuzz-"))
atexit.register(shutil.rmtree, HOME, True)  # also when the test is collected but deselected
APP = make_app(HOME)
TOKEN = APP.state.sightline.keys.create("fuzzer", "admin", created_by="pytest").token
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    APP.state.sightline.load_models()
    yield
    served = {s.labels["status"]: 0.0 for m in APP.state.metrics.requests.collect() for s in m.samples}
    for metric in APP.state.metrics.requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                served[sample.labels["status"]] += sample.value
    print("fuzz responses by status:", dict(sorted(served.items())))
    assert sum(served.values()) >= 200, "the fuzzer barely reached the app"
    assert not [status for status in served if status.startswith("5")], served
    APP.state.sightline.close()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error])
