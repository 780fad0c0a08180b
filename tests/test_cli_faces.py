"""The ``sightline faces`` and ``sightline models`` commands, run as a user would (real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sightline", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def test_detect_json_and_annotate(faces_dir, tmp_path) -> None:
    out = tmp_path / "annotated"
    result = run("faces", "detect", str(faces_dir / "group_six_people.jpg"),
                 str(faces_dir / "examples/two_people.jpg"), "--json", "--annotate", str(out))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["backend"] == "yunet-fused"
    counts = [len(r["faces"]) for r in payload["results"]]
    assert counts == [6, 2]
    face = payload["results"][0]["faces"][0]
    assert set(face) == {"box", "score", "landmarks", "quality"}
    assert len(face["landmarks"]) == 5
    assert sorted(p.name for p in out.iterdir()) == ["group_six_people.jpg", "two_people.jpg"]


def test_detect_reports_bad_files_and_keeps_going(faces_dir, tmp_path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    result = run("faces", "detect", str(junk), str(faces_dir / "examples/obama-240p.jpg"), "--json")
    assert result.returncode == 2
    payload = json.loads(result.stdout)
    assert payload["results"][0]["error"]["code"] == "not_an_image"
    assert len(payload["results"][1]["faces"]) == 1


def test_detect_text_output(faces_dir) -> None:
    result = run("faces", "detect", str(faces_dir / "examples/two_people.jpg"))
    assert result.returncode == 0 and "2 face(s)" in result.stdout


def test_verify_exit_codes(faces_dir) -> None:
    same = run("faces", "verify", str(faces_dir / "examples/obama.jpg"), str(faces_dir / "examples/obama2.jpg"),
               "--json")
    assert same.returncode == 0 and json.loads(same.stdout)["same_person"] is True
    different = run("faces", "verify", str(faces_dir / "examples/obama.jpg"), str(faces_dir / "examples/biden.jpg"))
    assert different.returncode == 1 and "different people" in different.stdout


def test_embed_without_face_exits_4(objects_dir) -> None:
    result = run("faces", "embed", str(objects_dir / "dog.jpg"), "--json")
    assert result.returncode == 4
    assert json.loads(result.stdout)["error"]["code"] == "no_face"


def test_embed_json(faces_dir) -> None:
    result = run("faces", "embed", str(faces_dir / "examples/biden.jpg"), "--json", "--backend", "dlib")
    assert result.returncode == 0
    payload = json.loads(result.stdout)
    assert payload["dim"] == 128 and len(payload["face"]["embedding"]) == 128


@pytest.mark.parametrize("args", [["faces", "verify", "/nonexistent.jpg", "/nope.png"], ["faces", "embed", "/"]])
def test_bad_paths_are_clear(args) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "error" in result.stderr


def test_models_list_and_verify(models_dir) -> None:
    listed = run("models", "list", "--json")
    names = {m["name"] for m in json.loads(listed.stdout)["models"]}
    assert {"yunet", "dlib-resnet-v1", "centernet"} <= names
    verified = run("models", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True


def test_models_verify_missing_named_model(tmp_path) -> None:
    result = run("models", "verify", "yunet", "--models", str(tmp_path), env={"SIGHTLINE_HOME": str(tmp_path)})
    assert result.returncode == 3


def test_models_list_shows_task_licence_provenance_and_commercial_flag(models_dir) -> None:
    listed = json.loads(run("models", "list", "--json").stdout)["models"]
    by_name = {m["name"]: m for m in listed}
    assert by_name["yunet-2023mar"]["provenance"] == "official" and by_name["yunet"]["task"] == "face_detector"
    assert by_name["insightface-mobilefacenet"]["commercial_use"] is False
    assert by_name["dlib-resnet-v1"]["used_by"] == ["yunet-dlib", "dlib", "yunet-fused", "yunet-fused-insightface"]
    text = run("models", "list", env={"COLUMNS": "300"}).stdout
    assert "provenance" in text and "opt-in" in text


def test_docs_models_md_is_the_generated_report() -> None:
    from pathlib import Path

    report = run("models", "report")
    assert report.returncode == 0 and report.stdout.startswith("| backend | kind | components")
    assert "\n| model | task | licence | provenance | commercial use |" in report.stdout
    docs = (Path(__file__).resolve().parent.parent / "docs" / "models.md").read_text()
    assert report.stdout in docs, "docs/models.md is stale: regenerate it with `sightline models report`"
