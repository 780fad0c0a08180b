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


# --- the registry of model tasks, backends as compositions, providers, variants -------------------------------

VISION = Path(__file__).resolve().parent.parent / "sightline" / "vision"


def test_every_entry_knows_task_provenance_input_and_licence() -> None:
    from sightline.models.spec import Provenance, Task

    assert len(REGISTRY) >= 25
    for spec in REGISTRY.values():
        assert isinstance(spec.task, Task) and isinstance(spec.provenance, Provenance), spec.name
        assert spec.description and spec.input.colour in {"bgr", "rgb", "grey"}, spec.name
        row = spec.to_dict()
        assert row["task"] == str(spec.task) and isinstance(row["commercial_use"], bool)
    tasks = {spec.task for spec in REGISTRY.values()}
    assert {Task.FACE_DETECTOR, Task.FACE_EMBEDDER, Task.FACE_LANDMARKS, Task.OBJECT_DETECTOR,
            Task.PLATE_DETECTOR, Task.TEXT_RECOGNISER, Task.LIVENESS} <= tasks


def test_default_yunet_is_still_the_2026may_file_and_2023mar_is_the_official_one() -> None:
    assert get_spec("yunet").filename == "yunet/face_detection_yunet_2026may.onnx"
    assert str(get_spec("yunet-2023mar").provenance) == "official"


def test_non_commercial_weights_are_flagged_and_never_a_default() -> None:
    from sightline.models.zoo import FACE_BACKENDS, OBJECT_DETECTORS

    restricted = {name for name, spec in REGISTRY.items() if not spec.commercial_use}
    assert {"insightface-mobilefacenet", "minifasnet-celebaspoof", "minifasnet-celebaspoof-int8"} <= restricted
    for registry in (FACE_BACKENDS, OBJECT_DETECTORS):
        for name in registry.preference:
            assert not restricted & set(registry[name].models), f"{name} would load non-commercial weights by default"


def test_backends_are_compositions_of_registered_models() -> None:
    from sightline.models.zoo import COMPONENTS, FACE_BACKENDS, OBJECT_DETECTORS

    assert FACE_BACKENDS["yunet-dlib"].models == ("yunet-2023mar", "dlib-shape5", "dlib-resnet-v1")
    assert FACE_BACKENDS["dlib"].models == ("dlib-shape5", "dlib-resnet-v1")
    assert list(OBJECT_DETECTORS.preference) == ["yolox", "nanodet", "centernet"]
    for component in COMPONENTS.values():
        for model in component.models:
            assert REGISTRY[model].task in (component.task, "face_landmarks"), (component.name, model)


def test_unknown_names_list_the_choices() -> None:
    from sightline.errors import ConfigError
    from sightline.models.zoo import FACE_BACKENDS, OBJECT_DETECTORS

    with pytest.raises(ConfigError, match="choose one of: auto, yunet-dlib, dlib, yunet-faceres, yunet-mobileface"):
        FACE_BACKENDS.lookup("arcface")
    with pytest.raises(ConfigError) as info:
        OBJECT_DETECTORS.lookup("yolo")
    assert info.value.code == "unknown_backend"
    with pytest.raises(ModelError) as info:
        get_spec("gpt-face")
    assert info.value.code == "unknown_model" and "yunet-2023mar" in info.value.message


def test_registry_refuses_duplicate_names() -> None:
    from sightline.models.registry import Registry

    with pytest.raises(ValueError, match="duplicate"):
        Registry("model", [get_spec("yunet"), get_spec("yunet")])


def test_cpu_is_the_default_provider(monkeypatch, models_dir) -> None:
    from sightline.models.onnx import create_session

    monkeypatch.delenv("SIGHTLINE_PROVIDERS", raising=False)
    session = create_session(models_dir / "human/liveness.onnx")
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_missing_provider_is_a_clear_config_error(monkeypatch, models_dir) -> None:
    import onnxruntime

    from sightline import FaceEngine
    from sightline.errors import ConfigError

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    monkeypatch.setenv("SIGHTLINE_PROVIDERS", "cuda")
    engine = FaceEngine("yunet-faceres", models_dir=str(models_dir))
    with pytest.raises(ConfigError) as info:
        engine.load()
    assert info.value.code == "provider_unavailable" and "CUDAExecutionProvider" in info.value.message
    with pytest.raises(ConfigError, match="OpenVINOExecutionProvider"):
        FaceEngine("yunet-faceres", models_dir=str(models_dir), providers=["openvino"]).load()


def test_int8_variant_is_one_setting(monkeypatch, models_dir) -> None:
    from sightline.models.zoo import Runtime

    store = ModelStore(models_dir)
    assert Runtime(store, variant=None).path("lpd-yunet").endswith("lpd_yunet_2023mar.onnx")
    monkeypatch.setenv("SIGHTLINE_MODEL_VARIANT", "int8")
    runtime = Runtime(store)
    assert runtime.path("lpd-yunet").endswith("lpd_yunet_2023mar_int8.onnx")
    assert runtime.path("yunet").endswith("2026may.onnx"), "models without that variant are unchanged"
    session = runtime.session("lpd-yunet")
    assert session.get_inputs()[0].shape == [1, 3, 240, 320]


def _imports(path: Path) -> list[str]:
    import ast

    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_vision_does_no_model_lookup_or_network_io() -> None:
    forbidden = ("sightline.models", "urllib", "requests", "httpx", "socket")
    offenders = [f"{path.relative_to(VISION)}: {name}" for path in VISION.rglob("*.py")
                 for name in _imports(path) if name.startswith(forbidden)]
    assert not offenders, offenders


def test_models_package_has_no_import_cycle() -> None:
    package = VISION.parent / "models"
    graph = {p.stem: {n.rsplit(".", 1)[-1] for n in _imports(p) if n.startswith("sightline.models.")}
             for p in package.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph.get(start, ()))

    assert not [m for m in graph if reaches(m, m, {m})]
