"""``sightline video process --plates`` on a video of a real plate photo, and the camera YAML ``plates:`` options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from plates_support import truth
from plates_video_support import pan_zoom, write_video

from sightline.plates.hashing import PlateHasher
from sightline.video.config import ConfigValidationError, parse_config


def sightline(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIGHTLINE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def cam(**fields):
    return {"cameras": {"gate": {"url": "rtsp://cam.local/stream", **fields}}}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigValidationError) as info:
        parse_config(raw)
    return dict(info.value.problems)


def test_video_process_with_plates_makes_one_passage(tmp_path) -> None:
    path, _, plate = truth("eu", "test_004")
    photo = cv2.imread(str(path))
    video = write_video(tmp_path / "lane.mp4", [pan_zoom(photo, i, 6, zoom=1.1) for i in range(6)])
    home = tmp_path / "home"
    result = sightline("video", "process", str(video), "--plates", "--no-motion", "--json", home=home)
    assert result.returncode == 0, result.stderr
    passages = [e for e in json.loads(result.stdout)["events"] if e["type"] == "vehicle_passage"]
    assert len(passages) == 1, passages
    data = passages[0]["data"]
    assert data["plate"] is None and data["list_hit"]["match"] == "none"  # on no list: only the keyed hash
    assert data["plate_hash"] == PlateHasher.load(home).hash(plate)
    assert plate not in result.stdout


def test_bad_plate_options_are_clear_errors(tmp_path) -> None:
    path, _, _ = truth("eu", "test_004")
    video = write_video(tmp_path / "lane.mp4", [cv2.imread(str(path))] * 2)
    result = sightline("video", "process", str(video), "--plates", "--driver-side", "middle", "--json",
                       home=tmp_path / "home")
    assert result.returncode != 0
    error = json.loads(result.stdout)["error"]
    assert "--plates" in error["message"] and "left" in error["message"], error
    assert "Traceback" not in result.stderr
    live = sightline("watch", "rtsp://127.0.0.1:9/none", "--plates", "--plate-region", "mars", "--json",
                     home=tmp_path / "home")
    assert live.returncode != 0 and "mars" in json.loads(live.stdout)["error"]["message"], live.stdout


def test_camera_yaml_plates_options() -> None:
    config = parse_config(cam(plates={"enabled": True, "line": [[0.1, 0.6], [0.9, 0.6]], "driver_side": "left",
                                      "store_plain_text": True, "region": "us"}))
    plates = config.cameras["gate"].plates
    assert plates.enabled and plates.driver_side == "left" and plates.store_plain_text and plates.region == "us"
    assert plates.pixel_line(1000, 500) == ((100.0, 300.0), (900.0, 300.0))
    assert not parse_config(cam()).cameras["gate"].plates.enabled  # off unless asked for
    assert not parse_config(cam()).cameras["gate"].plates.store_plain_text  # keyed hashes by default


@pytest.mark.parametrize(("plates", "where"), [
    ({"driver_side": "middle"}, "cameras.gate.plates.driver_side"),
    ({"region": "mars"}, "cameras.gate.plates.region"),
    ({"line": [[0.5, 0.5], [0.5, 0.5]]}, "cameras.gate.plates.line"),
    ({"line": [[0.5, 0.5]]}, "cameras.gate.plates.line"),
    ({"best_n": 0}, "cameras.gate.plates.best_n"),
    ({"store_plaintext": True}, "cameras.gate.plates.store_plaintext"),
])
def test_bad_camera_plates_options_name_the_key(plates, where) -> None:
    found = problems(cam(plates=plates))
    assert any(path.startswith(where) for path in found), found
