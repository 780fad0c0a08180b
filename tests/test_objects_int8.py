"""``sightline models quantize``: the registered int8 YOLOX-Nano, rebuilt from real photos outside the repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sightline.errors import ConfigError
from sightline.models.registry import REGISTRY
from sightline.models.store import ModelStore
from sightline.models.zoo import COMPONENTS, Runtime
from sightline.vision.image_io import load_image

REPO = Path(__file__).resolve().parents[1]


def quantize(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sightline", "models", "quantize", *args], capture_output=True,
                          text=True, timeout=900, env={**os.environ, "SIGHTLINE_HOME": str(home)})


def test_quantize_rebuilds_the_registered_int8_file_in_the_cache(tmp_path, objects_dir, faces_dir,
                                                                 models_dir, monkeypatch) -> None:
    home = tmp_path / "home"
    # The calibration photos the catalogue names (no coco-dev image: those measure accuracy).
    result = quantize("yolox-nano", "--calibration", str(objects_dir), "--calibration", str(faces_dir / "examples"),
                      "--json", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    path = Path(payload["int8"])
    assert path == home / "models" / "objects" / "yolox_nano_int8.onnx" and REPO not in path.parents
    assert REGISTRY["yolox-nano"].variants["int8"] == payload["registered_as"] == "yolox-nano-int8"
    assert payload["sha256"] == REGISTRY["yolox-nano-int8"].sha256

    monkeypatch.setenv("SIGHTLINE_HOME", str(home))  # the models cache the int8 file was written to
    runtime = Runtime(ModelStore(models_dir), variant="int8")
    assert Path(runtime.path("yolox-nano")) == path  # hash-checked
    detector = runtime.build(COMPONENTS["yolox"])
    found = [d.label for d in detector.detect(load_image(objects_dir / "bus.jpg"))]
    assert "bus" in found and found.count("person") >= 3


def test_quantize_refuses_models_without_a_recipe_and_missing_images(tmp_path, objects_dir) -> None:
    result = quantize("centernet", "--calibration", str(objects_dir), "--json", home=tmp_path)
    assert result.returncode == ConfigError.exit_code
    assert json.loads(result.stdout)["error"]["code"] == "no_recipe"
    result = quantize("yolox-nano", "--calibration", str(tmp_path / "nowhere"), "--json", home=tmp_path)
    assert result.returncode == ConfigError.exit_code
    assert json.loads(result.stdout)["error"]["code"] == "not_found"
    assert not list(tmp_path.rglob("*.onnx"))
