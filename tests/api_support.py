"""Shared fixtures for the API tests: one real app (real models, SQLite in a temp folder) and keys per role.

Import the fixtures into a test module with ``from api_support import *``.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED", REPO.parent / "shared"))
MODELS = Path(os.environ.get("SIGHTLINE_MODELS", SHARED / "models"))
FACES = Path(os.environ.get("SIGHTLINE_DATA", SHARED / "data")) / "faces-small"
EXAMPLES = FACES / "examples"
UPLOAD_LIMIT = 3 * 1024 * 1024

__all__ = ["api", "client", "tokens", "auth", "image_bytes", "b64", "no_face_jpeg", "EXAMPLES", "FACES",
           "UPLOAD_LIMIT"]


def image_bytes(name: str) -> bytes:
    """Bytes of a sample photo under faces-small/examples."""
    return (EXAMPLES / name).read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def no_face_jpeg() -> bytes:
    """A real photo region with no face in it: the top-left background corner of biden.jpg."""
    with Image.open(EXAMPLES / "biden.jpg") as image:
        crop = image.convert("RGB").crop((0, 0, 120, 120))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_app(home: Path, backend: str = "auto"):
    """The real app over the data folder ``home`` on face ``backend`` (models from ../shared/models)."""
    from sightline.api import ApiSettings, create_app

    return create_app(ApiSettings(home=home, db_url=f"sqlite:///{home / 'sightline.db'}", models_dir=str(MODELS),
                                  backend=backend, max_upload_bytes=UPLOAD_LIMIT, inference_threads=2))


def role_tokens(app) -> dict[str, str]:
    """One fresh token per role of ``app``."""
    keys = app.state.sightline.keys
    return {role: keys.create(f"test-{role}", role, created_by="pytest").token
            for role in ("admin", "operator", "viewer")}


@pytest.fixture(scope="session")
def api(tmp_path_factory):
    """The real app over a fresh data folder (models from ../shared/models)."""
    return make_app(tmp_path_factory.mktemp("sightline-api"))


@pytest.fixture(scope="session")
def client(api):
    """A TestClient with the app's lifespan running (models loaded at start-up)."""
    from fastapi.testclient import TestClient

    with TestClient(api) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def tokens(api):
    """One fresh token per role."""
    return role_tokens(api)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
