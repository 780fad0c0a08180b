"""The ``sightline`` command line (typer). Each command group lives in its own module."""

from __future__ import annotations

import typer

from sightline.cli import faces, models, objects

app = typer.Typer(
    name="sightline",
    help="Consent-first face and object recognition. Every command takes --json for scripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(faces.app, name="faces")
app.add_typer(models.app, name="models")
app.add_typer(objects.app, name="objects")


def main() -> None:
    """Console-script entry point."""
    app()
