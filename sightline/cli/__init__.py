"""The ``sightline`` command line (typer). Each command group lives in its own module."""

from __future__ import annotations

import typer

from sightline.cli import audit, calibrate, config, faces, gallery, keys, models, objects, plates, privacy, serve, video
from sightline.jobs.hooks import install_hooks

app = typer.Typer(
    name="sightline",
    help="Consent-first face and object recognition. Every command takes --json for scripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _start() -> None:
    """Install what every command relies on: erasure cleans the event history, retention covers every store."""
    install_hooks()


app.add_typer(faces.app, name="faces")
app.add_typer(models.app, name="models")
app.add_typer(objects.app, name="objects")
app.add_typer(gallery.app, name="gallery")
app.add_typer(audit.app, name="audit")
app.add_typer(privacy.app, name="privacy")
app.add_typer(config.app, name="config")
app.command("init")(gallery.init)
app.command("identify")(gallery.identify)
app.add_typer(keys.app, name="keys")
app.command("serve")(serve.serve)
app.add_typer(video.app, name="video")
app.add_typer(plates.app, name="plates")
app.command("watch")(video.watch)
app.add_typer(calibrate.calibration_app, name="calibration")
app.add_typer(calibrate.calibrate_app, name="calibrate")


def main() -> None:
    """Console-script entry point."""
    app()
