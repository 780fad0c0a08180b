"""Switching face backends: `gallery reembed` re-enrols from kept photos and names who needs new ones."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sightline.cli import app

runner = CliRunner()
ENROL = ["--legal-basis", "contract", "--purpose", "door access", "--retention-days", "30"]


def cli(home: Path, *args: str, code: int = 0) -> dict:
    result = runner.invoke(app, [*args, "--json"], env={"SIGHTLINE_HOME": str(home), "SIGHTLINE_ACTOR": "reembed"})
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def _identified(home: Path, image: Path, backend: str) -> list[str]:
    found = cli(home, "identify", str(image), "--backend", backend)
    return [f["decision"] for f in found["results"][0]["faces"] if f["decision"] != "unknown"]


def test_switching_backend_reembeds_kept_photos_and_lists_subjects_without_them(tmp_path, faces_dir):
    home = tmp_path / "home"
    train = faces_dir / "examples" / "knn_examples" / "train"
    obama_photos = sorted((train / "obama").glob("*.jpg"))
    biden_photos = sorted((train / "biden").glob("*.jpg"))
    obama = cli(home, "gallery", "enroll", *map(str, obama_photos), "--name", "Barack Obama", *ENROL,
                "--store-images", "--backend", "yunet-mobileface")["subject_id"]
    cli(home, "gallery", "enroll", *map(str, biden_photos), "--name", "Joe Biden", *ENROL,
        "--backend", "yunet-mobileface")  # photos not kept
    probe = faces_dir / "examples" / "knn_examples" / "test" / "obama1.jpg"
    assert _identified(home, probe, "yunet-mobileface") == [obama]
    # the other embedder cannot compare with mobileface templates: nobody is searchable until re-embedded
    assert _identified(home, probe, "yunet-dlib") == []

    report = cli(home, "gallery", "reembed", "--backend", "yunet-dlib")
    assert report["embedder"] == "dlib-resnet"
    assert report["reembedded"] == len(obama_photos)
    assert [s["name"] for s in report["needs_photos"]] == ["Joe Biden"]
    assert _identified(home, probe, "yunet-dlib") == [obama]
    assert _identified(home, probe, "yunet-mobileface") == [obama]  # old templates kept: switching back

    again = cli(home, "gallery", "reembed", "--backend", "yunet-dlib")  # idempotent
    assert again["reembedded"] == 0 and again["up_to_date"] == 1
    shown = cli(home, "gallery", "show", "Barack Obama")
    embedders = sorted({t["embedder"] for t in shown["template_list"]})
    assert embedders == ["dlib-resnet", "mobileface-v2"]
    erased = cli(home, "gallery", "erase", "Barack Obama", "--yes")  # erasure covers both embedders' templates
    assert erased["templates"] == 2 * len(obama_photos)
