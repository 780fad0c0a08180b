"""Per-camera calibration from the CLI and the API: a real cohort (LFW view 1), real footage (grey LFW
strangers as a night camera would see them), the point stored, counts audited, no face data left behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA, MODELS
from typer.testing import CliRunner

from sightline.calibration.lfw_cohort import view1_people
from sightline.cli import app

LFW = DATA / "lfw"
runner = CliRunner()
FOOTAGE_FACES = 14


def cli(home: Path, *args: str, code: int = 0) -> dict:
    result = runner.invoke(app, [*args, "--json"], env={"SIGHTLINE_HOME": str(home), "SIGHTLINE_ACTOR": "cli-test",
                                                        "SIGHTLINE_MODELS": str(MODELS)})
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout) if code == 0 else {"stderr": result.stderr + result.stdout}


def view2_strangers(count: int) -> list[Path]:
    """Photos of view-2-only LFW people (named in pairs.txt, in no view-1 file): never in the cohort."""
    seen = set(view1_people(LFW / "pairsDevTrain.txt")) | set(view1_people(LFW / "pairsDevTest.txt"))
    people = sorted(set(view1_people(LFW / "pairs.txt")) - seen)
    return [LFW / "images" / p / f"{p}_0001.jpg" for p in people[:count]]


def write_grey_footage(folder: Path, photos: list[Path]) -> list[Path]:
    folder.mkdir(parents=True)
    out = []
    for photo in photos:
        grey = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2GRAY)
        out.append(folder / photo.name)
        cv2.imwrite(str(out[-1]), grey)
    return out


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``root`` holding any of ``needles`` (raw float32 embedding bytes)."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(needle in data for needle in needles):
            hits.append(str(path))
    return hits


@pytest.fixture(scope="module")
def cohort_home(tmp_path_factory) -> Path:
    """A data folder whose models cache holds a small real cohort built by the CLI."""
    home = tmp_path_factory.mktemp("calib") / "home"
    cli(home, "init")
    built = cli(home, "calibration", "build-cohort", "--lfw", str(LFW), "--limit", "56")
    path = Path(built["path"])
    assert path.is_file() and path.parent == home / "models" / "cohorts"
    assert json.loads(path.with_suffix(".json").read_text())["sha256"] == built["sha256"]
    assert built["faces"] >= 50
    return home


@pytest.fixture(scope="module")
def footage(tmp_path_factory, engine) -> tuple[Path, list[bytes]]:
    """A folder of grey stranger photos and the raw float32 bytes of three of their face embeddings."""
    files = write_grey_footage(tmp_path_factory.mktemp("footage") / "cam", view2_strangers(FOOTAGE_FACES))
    needles = [np.asarray(engine.embed(f), dtype=np.float32).tobytes()[:64] for f in files[:3]]
    return files[0].parent, needles


def test_cli_calibrates_a_camera_and_keeps_no_face_data(cohort_home, footage, tmp_path) -> None:
    folder, needles = footage
    result = cli(cohort_home, "calibrate", "camera", "night-door", "--source", str(folder), "--target-fpir", "0.001",
                 "--min-faces", "10")
    assert result["face_data_kept"] is False and result["target"] == "1 in 1,000 strangers"
    grey = sum(n for name, n in result["conditions"].items() if name.startswith("grey"))
    assert result["faces_used"] >= 10 and grey == result["faces_used"], result["conditions"]
    assert result["source"] == "camera:night-door" and result["threshold"] > 0
    shown = cli(cohort_home, "calibration", "show")
    assert [c["camera"] for c in shown["cameras"]] == ["night-door"]
    assert shown["cameras"][0]["threshold"] == pytest.approx(result["threshold"], abs=1e-3)

    rows = [r for r in cli(cohort_home, "audit", "tail", "-n", "5")["entries"] if r["action"] == "camera_calibrate"]
    assert rows and rows[-1]["outcome"] == "ok"
    assert set(rows[-1]["details"]) <= {"camera", "frames", "faces_seen", "faces_used", "faces_refused", "conditions",
                                        "trials", "score_kind", "target_fpir", "threshold", "templates",
                                        "face_data_kept"}

    # the scan finds an embedding where one is (control), and none anywhere in the data folder
    control = tmp_path / "control.bin"
    control.write_bytes(b"\0" * 100 + needles[0] + b"\0" * 100)
    assert files_containing(tmp_path, needles) == [str(control)]
    assert (cohort_home / "sightline.db").is_file()
    assert files_containing(cohort_home, needles) == []


def test_cli_refuses_bad_targets_and_too_little_footage(cohort_home, footage, tmp_path) -> None:
    folder, _ = footage
    bad = cli(cohort_home, "calibrate", "camera", "door", "--source", str(folder), "--target-fpir", "2", code=2)
    assert "target FPIR" in bad["stderr"]
    few = tmp_path / "few"
    few.mkdir()
    shutil.copy(next(folder.glob("*.jpg")), few)
    short = cli(cohort_home, "calibrate", "camera", "door", "--source", str(few), code=2)
    assert "usable faces" in short["stderr"]
    assert [c["camera"] for c in cli(cohort_home, "calibration", "show")["cameras"]] == ["night-door"]


def test_api_calibrates_a_camera_for_admins_only(cohort_home, footage, tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from sightline.api import ApiSettings, create_app

    folder, needles = footage
    home = tmp_path / "api-home"
    shutil.copytree(cohort_home / "models", home / "models")
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    settings = ApiSettings(home=home, db_url=f"sqlite:///{home / 'sightline.db'}", models_dir=str(MODELS),
                           backend="auto", inference_threads=1)
    api = create_app(settings)
    with TestClient(api) as client:
        keys = api.state.sightline.keys
        admin = {"Authorization": f"Bearer {keys.create('a', 'admin', created_by='pytest').token}"}
        operator = {"Authorization": f"Bearer {keys.create('o', 'operator', created_by='pytest').token}"}
        body = {"source": str(folder), "target_fpir": 0.01, "min_faces": 10}
        assert client.post("/api/v1/cameras/gate/calibration", json=body, headers=operator).status_code == 403
        assert client.post("/api/v1/cameras/gate/calibration", json=body | {"target_fpir": 5},
                           headers=admin).status_code == 422
        assert client.post("/api/v1/cameras/gate/calibration", json={"target_fpir": 0.01},
                           headers=admin).status_code == 404  # no running camera and no footage named
        done = client.post("/api/v1/cameras/gate/calibration", json=body, headers=admin)
        assert done.status_code == 200, done.text
        assert done.json()["target"] == "1 in 100 strangers" and done.json()["face_data_kept"] is False
        status = client.get("/api/v1/calibration", headers=operator).json()
        assert status["cohort"]["faces"] >= 50 and [c["camera"] for c in status["cameras"]] == ["gate"]
        assert status["cameras"][0]["target"] == "1 in 100 strangers"
        assert client.delete("/api/v1/cameras/gate/calibration", headers=operator).status_code == 403
        assert client.delete("/api/v1/cameras/gate/calibration", headers=admin).json()["removed"] == 1
        assert client.get("/api/v1/calibration", headers=operator).json()["cameras"] == []
    assert files_containing(home, needles) == []
