"""``sightline plates ...`` run as a user would (real process, real models, real plate photos, SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from plates_support import truth


def run(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SIGHTLINE_HOME": str(home), "SIGHTLINE_ACTOR": "cli-test"})


def test_read_lists_export_and_erase(tmp_path) -> None:
    home = tmp_path / "home"
    assert run(home, "init", "--json").returncode == 0
    listed, _box, plate = truth("eu", "test_002")
    refused = run(home, "plates", "add", plate, "--list", "watch", "--json")
    assert refused.returncode == 8 and json.loads(refused.stdout)["error"]["code"] == "legal_basis_required"
    added = run(home, "plates", "add", plate, "--list", "watch", "--legal-basis", "legitimate_interest",
                "--purpose", "stolen vehicle report", "--retention-days", "30", "--json")
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)

    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    out = tmp_path / "annotated"
    result = run(home, "plates", "read", str(listed), str(junk), "--json", "--annotate", str(out))
    assert result.returncode == 2  # the bad file is reported, the good one still read
    payload = json.loads(result.stdout)
    good, bad = payload["results"]
    assert [p["text"] for p in good["plates"]] == [plate]
    assert good["plates"][0]["list_hits"][0]["match"] == "exact"
    assert bad["error"]["code"] == "not_an_image"
    assert [p.name for p in out.iterdir()] == [listed.name]

    lookup = json.loads(run(home, "plates", "lookup", plate[:-1] + "X", "--json").stdout)
    assert [(h["entry_id"], h["match"]) for h in lookup["hits"]] == [(entry["id"], "fuzzy")]
    exported = tmp_path / "entry.json"
    assert run(home, "plates", "export", entry["id"], "-o", str(exported)).returncode == 0
    assert json.loads(exported.read_text())["entry"]["plate"] == plate
    erased = run(home, "plates", "erase", entry["id"], "--yes", "--json")
    assert erased.returncode == 0 and json.loads(erased.stdout)["entries"] == 1
    listing = json.loads(run(home, "plates", "list", "--json").stdout)
    assert listing == {"entries": []}
    missing = run(home, "plates", "erase", entry["id"], "--yes", "--json")
    assert missing.returncode == 9 and json.loads(missing.stdout)["error"]["code"] == "plate_entry_not_found"


def test_read_text_output_says_unreadable_and_no_plate(tmp_path, faces_dir) -> None:
    home = tmp_path / "home"
    assert run(home, "init", "--json").returncode == 0
    result = run(home, "plates", "read", str(faces_dir / "examples/obama.jpg"))
    assert result.returncode == 0, result.stderr
    assert "0 plate(s)" in " ".join(result.stdout.split())  # rich wraps long paths at the terminal width


def test_privacy_sweep_purges_expired_plate_entries(tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    home = tmp_path / "home"
    assert run(home, "init", "--json").returncode == 0
    added = run(home, "plates", "add", "RK755AJ", "--list", "allow", "--legal-basis", "contract", "--purpose",
                "staff car park", "--retention-days", "10", "--json")
    assert added.returncode == 0, added.stderr
    later = (datetime.now(UTC) + timedelta(days=11)).isoformat()
    swept = run(home, "privacy", "sweep", "--now", later, "--json")
    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout)["purged"]["plates"] == 1
    assert json.loads(run(home, "plates", "list", "--json").stdout) == {"entries": []}
