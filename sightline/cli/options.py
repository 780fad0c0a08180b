"""Command-line options shared by several command groups (one definition, one help text)."""

from __future__ import annotations

import typer

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
ModelsOption = typer.Option(None, "--models", help="Folder with model files (default: $SIGHTLINE_MODELS).")
FACE_BACKEND_HELP = "Face backend: auto (yunet-fused, else yunet-dlib, else dlib) or a `models list` name."
FaceBackendOption = typer.Option("auto", "--backend", "-b",
                              help=FACE_BACKEND_HELP)
HomeOption = typer.Option(None, "--home", envvar="SIGHTLINE_HOME",
                          help="Data folder (database, keys); default ~/.sightline.")
DbOption = typer.Option(None, "--db-url", envvar="SIGHTLINE_DB_URL",
                        help="Database URL (default: SQLite in the data folder), e.g. postgresql+psycopg://...")
ActorOption = typer.Option(None, "--actor", envvar="SIGHTLINE_ACTOR", help="Who is acting (audit log); default: login.")
IndexOption = typer.Option("exact", "--index", help="Vector index: exact, hnsw or ivf.")
