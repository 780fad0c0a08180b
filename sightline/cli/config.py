"""``sightline config validate``: check a camera configuration file before running it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from sightline.cli.output import console, emit_json, err_console, handle_errors
from sightline.video.config import SightlineConfig, load_config, redact_url

app = typer.Typer(help="Check configuration files.", no_args_is_help=True)


def camera_rows(config: SightlineConfig) -> list[dict[str, Any]]:
    """One JSON-friendly row per camera (passwords redacted)."""
    return [{
        "name": name,
        "url": redact_url(cam.url),
        "kind": cam.source_kind,
        "enabled": cam.enabled,
        "fps": cam.fps,
        "classes": cam.classes,
        "min_score": cam.min_score,
        "zones": sorted(cam.zones),
        "motion": cam.motion.enabled,
        "face_recognition": cam.face_recognition.enabled,
    } for name, cam in config.cameras.items()]


def summarise(config: SightlineConfig) -> dict[str, object]:
    """JSON-friendly summary of a valid config (passwords redacted)."""
    cameras = camera_rows(config)
    mqtt = None
    if config.mqtt is not None:
        mqtt = {"enabled": config.mqtt.enabled, "host": config.mqtt.host, "port": config.mqtt.port,
                "topic_prefix": config.mqtt.topic_prefix, "tls": config.mqtt.tls,
                "auth": config.mqtt.username is not None}
    return {
        "cameras": cameras,
        "mqtt": mqtt,
        "webhooks": [str(u) for u in config.webhooks.urls] if config.webhooks else [],
        "retention": config.retention.model_dump(),
        "storage": {"root": str(config.storage.root), "snapshots": str(config.storage.snapshot_dir),
                    "db_url": "(set)" if config.storage.db_url else None},
        "privacy": config.privacy.model_dump(),
    }


@app.command()
def validate(
    file: Path = typer.Argument(..., help="YAML configuration file."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Validate a camera config; bad keys are named by their path (cameras.gate.fps: must be > 0)."""
    with handle_errors(as_json):
        config = load_config(file)
    warnings = config.warnings()
    if as_json:
        emit_json({"ok": True, "file": str(file), **summarise(config), "warnings": warnings})
        return
    table = Table(title=f"{file}: valid, {len(config.cameras)} camera(s)")
    for column in ("camera", "source", "enabled", "fps", "classes", "zones", "motion", "faces"):
        table.add_column(column)
    for row in camera_rows(config):
        table.add_row(row["name"], f"{row['kind']}: {row['url']}", _yes(row["enabled"]), f"{row['fps']:g}",
                      ", ".join(row["classes"]), ", ".join(row["zones"]) or "-", _yes(row["motion"]),
                      _yes(row["face_recognition"]))
    console.print(table)
    if config.mqtt and config.mqtt.enabled:
        console.print(f"mqtt: {config.mqtt.host}:{config.mqtt.port} prefix {config.mqtt.topic_prefix!r}"
                      f"{' (tls)' if config.mqtt.tls else ''}", highlight=False)
    for warning in warnings:
        err_console.print(f"[yellow]warning[/]: {warning}", highlight=False)


def _yes(flag: object) -> str:
    return "yes" if flag else "no"
