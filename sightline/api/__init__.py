"""Sightline HTTP API (FastAPI) and the web UI it serves. Build the app with :func:`create_app`."""

from sightline.api.app import create_app
from sightline.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
