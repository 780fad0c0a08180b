"""int8 face models: ``sightline models quantize`` rebuilds each shipped int8 file, which loads through
``SIGHTLINE_MODEL_VARIANT=int8`` and embeds real faces like the float model does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sightline.models.int8 import RECIPES, lfw_calibration
from sightline.models.registry import REGISTRY
from sightline.models.store import ModelStore
from sightline.models.zoo import COMPONENTS, Runtime
from sightline.vision.faces.detectors import YuNetDetector
from sightline.vision.image_io import load_image

REPO = Path(__file__).resolve().parents[1]
LFW = Path(os.environ.get("SIGHTLINE_DATA", REPO.parent / "shared" / "data")) / "lfw"
SHIPPED = sorted(name for name in RECIPES if "int8" in REGISTRY[name].variants)
COMPONENT_OF = {"faceplugin-feature": "frfeature", "mobileface-v2": "mobileface-v2",
                "insightface-mobilefacenet": "insightface-mobilefacenet"}


@pytest.fixture(scope="module")
def int8_home(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """A Sightline home whose models cache holds every shipped int8 face model, made by the CLI."""
    assert LFW.is_dir(), f"test data missing: {LFW}"
    home = tmp_path_factory.mktemp("int8") / "home"
    made = {}
    for name in SHIPPED:
        result = subprocess.run([sys.executable, "-m", "sightline", "models", "quantize", name, "--calibration",
                                 str(LFW), "--json"], capture_output=True, text=True, timeout=900,
                                env={**os.environ, "SIGHTLINE_HOME": str(home)})
        assert result.returncode == 0, result.stdout + result.stderr
        made[name] = json.loads(result.stdout)
    return home, made


def test_some_face_int8_variant_ships_and_the_rest_are_registered_unshipped() -> None:
    assert SHIPPED, "no int8 face model is shipped"
    for name in RECIPES:
        assert f"{name}-int8" in REGISTRY, name  # measured candidates are registered with their figures
        assert REGISTRY[name].variants.get("int8", f"{name}-int8") == f"{name}-int8"


def test_calibration_images_never_show_a_view2_person() -> None:
    images = lfw_calibration(LFW)
    view2 = set()
    for line in (LFW / "pairs.txt").read_text().splitlines()[1:]:
        parts = line.split()
        view2.update([parts[0]] if len(parts) == 3 else [parts[0], parts[2]])
    assert len(images) >= 200 and all(p.is_file() for p in images)
    assert not {p.parent.name for p in images} & view2


def test_quantize_rebuilds_the_registered_files_in_the_cache(int8_home) -> None:
    home, made = int8_home
    for name, payload in made.items():
        path = Path(payload["int8"])
        assert home / "models" in path.parents and REPO not in path.parents
        assert payload["registered_as"] == REGISTRY[name].variants["int8"] and payload["shipped"] is True
        assert payload["sha256"] == REGISTRY[f"{name}-int8"].sha256


def _faces(faces_dir: Path, store: ModelStore) -> list[tuple[str, np.ndarray, object]]:
    detector = YuNetDetector(str(store.path("yunet-2023mar")))
    found = []
    for path in sorted((faces_dir / "examples" / "knn_examples" / "train").rglob("*.jp*g")):
        image = load_image(path)
        faces = detector.detect(image)
        if faces:
            found.append((path.parent.name, image, faces[0]))
    return found


def _agrees(reference: np.ndarray, other: np.ndarray) -> bool:
    """Every face within cosine 0.97 of float and 0.98 on average: all-zero, NaN or mis-fed output fails."""
    cosine = np.nan_to_num((reference * other).sum(axis=1), nan=-1.0)
    return bool(cosine.min() >= 0.97 and cosine.mean() >= 0.98)


def test_int8_embedders_load_through_the_variant_and_agree_with_float(int8_home, faces_dir, models_dir,
                                                                      monkeypatch) -> None:
    home, made = int8_home
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    store = ModelStore(models_dir)
    faces = _faces(faces_dir, store)
    names = [who for who, _, _ in faces]
    assert len(faces) >= 8 and len(set(names)) >= 4
    for name in SHIPPED:
        if name == "yunet-2023mar":
            continue
        component = COMPONENTS[COMPONENT_OF[name]]
        runtime = Runtime(store, variant="int8")
        assert Path(runtime.path(name)) == Path(made[name]["int8"])  # hash-checked
        float_embedder = Runtime(store, variant=None).build(component)
        int8_embedder = runtime.build(component)
        reference = np.concatenate([float_embedder.embed(image, [face]) for _, image, face in faces])
        quantised = np.concatenate([int8_embedder.embed(image, [face]) for _, image, face in faces])
        assert np.isfinite(quantised).all() and np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-4)
        assert _agrees(reference, quantised), name
        # The tolerance is tight enough to catch a preprocessing mistake: the same int8 model fed
        # BGR instead of RGB crops falls outside it.
        swapped = np.concatenate([int8_embedder.embed(np.ascontiguousarray(image[:, :, ::-1]), [face])
                                  for _, image, face in faces])
        assert not _agrees(reference, swapped), name
        # A gallery enrolled with the float model still finds each person from an int8 probe.
        similarity = quantised @ reference.T
        np.fill_diagonal(similarity, -2.0)
        for i, who in enumerate(names):
            if names.count(who) > 1:
                assert names[int(similarity[i].argmax())] == who, (name, who)
