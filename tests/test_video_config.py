"""Camera config: validation errors name the bad key; prohibited uses are refused; the CLI reports both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sightline.cli import app
from sightline.errors import ConfigError, ProhibitedUseError
from sightline.video.config import ConfigValidationError, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "cameras.example.yaml"


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigValidationError) as info:
        parse_config(raw)
    return dict(info.value.problems)


def cam(**fields):
    return {"cameras": {"gate": {"url": "rtsp://cam.local/stream", **fields}}}


def test_the_shipped_example_is_valid():
    config = load_config(EXAMPLE)
    front = config.cameras["front_door"]
    assert front.source_kind == "rtsp" and front.fps == 5 and front.classes == ["person", "dog", "car"]
    assert front.zones["porch"].is_relative and not front.zones["driveway"].is_relative
    assert front.zones["porch"].pixel_points(1280, 720)[2] == (640, 720)
    assert front.face_recognition.enabled and front.face_recognition.identify_every_n_frames == 5
    assert config.cameras["garden"].source_kind == "webcam" and not config.cameras["garden"].enabled
    assert set(config.enabled_cameras()) == {"front_door", "sample_clip"}
    assert config.mqtt.topic_prefix == "sightline" and config.mqtt.port == 1883
    assert [str(u) for u in config.webhooks.urls] == ["http://127.0.0.1:8080/hooks/sightline"]
    assert config.retention.event_days == 30 and config.retention.snapshot_days == 7
    assert config.privacy.blur_unknown_faces and not config.privacy.store_unknown_faces


def test_defaults_are_private_and_minimal():
    config = parse_config({"cameras": {"door": {"url": 0}}})
    door = config.cameras["door"]
    assert door.source_kind == "webcam" and door.classes == ["person"] and door.motion.enabled
    assert not door.face_recognition.enabled
    assert config.privacy.blur_unknown_faces is True and config.privacy.store_unknown_faces is False
    assert config.mqtt is None and config.webhooks is None
    assert door.to_motion_config().threshold == 25


@pytest.mark.parametrize(("raw", "path", "message"), [
    (cam(fps=0), "cameras.gate.fps", "must be > 0"),
    (cam(fps=500), "cameras.gate.fps", "must be <= 60"),
    (cam(min_score=1.5), "cameras.gate.min_score", "must be <= 1"),
    (cam(fsp=5), "cameras.gate.fsp", "unknown key (did you mean 'fps'?)"),
    (cam(classes=["persn"]), "cameras.gate.classes", "did you mean 'person'?"),
    (cam(classes=[]), "cameras.gate.classes", "at least 1"),
    (cam(url="ftp://cam/x"), "cameras.gate.url", "unsupported scheme 'ftp'"),
    (cam(url="rtsp:///x"), "cameras.gate.url", "no host"),
    (cam(url=-1), "cameras.gate.url", "webcam index must be >= 0"),
    (cam(motion={"threshold": 0}), "cameras.gate.motion.threshold", "must be > 0"),
    (cam(motion={"treshold": 9}), "cameras.gate.motion.treshold", "did you mean 'threshold'?"),
    (cam(face_recognition={"identify_every_n_frames": 0}),
     "cameras.gate.face_recognition.identify_every_n_frames", "must be >= 1"),
    (cam(zones={"door": [[0, 0], [1, 1]]}), "cameras.gate.zones.door.points", "at least 3"),
    (cam(zones={"door": {"points": [[0, 0], [2, 0], [1, 1]], "units": "relative"}}), "cameras.gate.zones.door",
     "relative coordinates must lie in [0, 1]"),
    (cam(zones={"door": [[0, 0], [-5, 0], [1, 1]]}), "cameras.gate.zones.door.points", ">= 0"),
    (cam(zones={"front door": [[0, 0], [5, 0], [1, 1]]}), "cameras.gate.zones.front door", "bad name"),
    ({"cameras": {"gate/1": {"url": 0}}}, "cameras.gate/1", "bad name"),
    ({"cameras": {}}, "cameras", "at least 1"),
    ({"camera": {"gate": {"url": 0}}}, "camera", "did you mean 'cameras'?"),
    ({"cameras": {"gate": {"url": 0}}, "mqtt": {"port": 1883}}, "mqtt.host", "required key is missing"),
    ({"cameras": {"gate": {"url": 0}}, "mqtt": {"host": "h", "port": 70000}}, "mqtt.port", "must be <= 65535"),
    ({"cameras": {"gate": {"url": 0}}, "mqtt": {"host": "h", "topic_prefix": "a/#"}}, "mqtt.topic_prefix",
     "pattern"),
    ({"cameras": {"gate": {"url": 0}}, "webhooks": {"urls": ["not a url"]}}, "webhooks.urls.0", "URL"),
    ({"cameras": {"gate": {"url": 0}}, "webhooks": {"urls": ["http://h/x"], "timeout": 0}}, "webhooks.timeout",
     "must be > 0"),
    ({"cameras": {"gate": {"url": 0}}, "retention": {"event_days": 0}}, "retention.event_days", "must be >= 1"),
    ({"cameras": {"gate": {"url": 0}}, "privacy": {"blur_unknown_faces": "maybe"}}, "privacy.blur_unknown_faces",
     "boolean"),
])
def test_errors_name_the_bad_key(raw, path, message):
    found = problems(raw)
    assert path in found, found
    assert message in found[path]


def test_all_problems_are_reported_at_once():
    found = problems({"cameras": {"a": {"url": 0, "fps": 0}, "b": {"url": 0, "min_score": 0}}})
    assert set(found) == {"cameras.a.fps", "cameras.b.min_score"}


@pytest.mark.parametrize("raw", [
    cam(reid_unknown=True),
    cam(cross_camera_reid="yes"),
    {"cameras": {"gate": {"url": 0}}, "tracking": {"link_unknown_across_cameras": True}},
    cam(attributes=["age", "gender", "ethnicity"]),
    cam(face_recognition={"enabled": True, "attributes": ["Ethnicity"]}),
    cam(classes=["person", "gender"]),
    cam(estimate_age=True),
    cam(demographics=True),
])
def test_prohibited_uses_are_refused_with_a_reason(raw):
    with pytest.raises(ProhibitedUseError) as info:
        parse_config(raw)
    message = info.value.message
    assert "cameras.gate" in message or "tracking." in message
    assert "consent" in message or "protected characteristics" in message


def test_prohibited_keys_switched_off_are_accepted():
    config = parse_config(cam(reid_unknown=False, attributes=[]))
    assert config.cameras["gate"].url == "rtsp://cam.local/stream"


def test_yaml_problems_are_config_errors(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("cameras:\n  gate: {url: 0}\n  gate: {url: 1}\n")
    with pytest.raises(ConfigValidationError) as info:
        load_config(dup)
    assert info.value.problems == [("cameras.gate", "key repeated on line 3")]
    broken = tmp_path / "broken.yaml"
    broken.write_text("cameras:\n  gate: [url: 0\n")
    with pytest.raises(ConfigValidationError, match="not valid YAML"):
        load_config(broken)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("cameras: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigValidationError, match="not valid YAML"):
        load_config(unsafe)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigValidationError, match="empty"):
        load_config(empty)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_cli_validate_reports_keys_and_exit_codes(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "validate", str(EXAMPLE), "--json"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)
    assert summary["ok"] and [c["name"] for c in summary["cameras"]] == ["front_door", "garden", "sample_clip"]
    assert summary["cameras"][0]["url"] == "rtsp://viewer:***@192.168.1.20:554/stream1"  # password redacted
    assert "CHANGE_ME" not in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  gate:\n    url: 0\n    fps: -2\n")
    result = runner.invoke(app, ["config", "validate", str(bad), "--json"])
    assert result.exit_code == ConfigError.exit_code
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "bad_config"
    assert error["problems"] == [{"path": "cameras.gate.fps", "message": "must be > 0"}]
    text = runner.invoke(app, ["config", "validate", str(bad)])
    assert text.exit_code == ConfigError.exit_code and "cameras.gate.fps: must be > 0" in text.output

    banned = tmp_path / "banned.yaml"
    banned.write_text("cameras:\n  gate:\n    url: 0\n    attributes: [age, gender, ethnicity]\n")
    result = runner.invoke(app, ["config", "validate", str(banned), "--json"])
    assert result.exit_code == ProhibitedUseError.exit_code
    assert json.loads(result.stdout)["error"]["code"] == "prohibited_use"


def test_warnings_for_risky_but_valid_settings(tmp_path):
    config = parse_config({"cameras": {"clip": {"url": str(tmp_path / "nope.mp4")}},
                           "privacy": {"blur_unknown_faces": False},
                           "mqtt": {"host": "broker", "username": "u", "password": "p"}})
    warnings = "\n".join(config.warnings())
    assert "cameras.clip.url" in warnings and "blur_unknown_faces" in warnings and "mqtt.tls" in warnings
