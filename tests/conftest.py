"""Shared fixtures: where the real models and data live, and one FaceEngine per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED", REPO.parent / "shared"))
MODELS = Path(os.environ.get("SIGHTLINE_MODELS", SHARED / "models"))
DATA = Path(os.environ.get("SIGHTLINE_DATA", SHARED / "data"))
FACES = DATA / "faces-small"
OBJECTS = DATA / "objects-small"

os.environ.setdefault("SIGHTLINE_MODELS", str(MODELS))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """Root of the real face photos (../shared/data/faces-small)."""
    assert FACES.is_dir(), f"test data missing: {FACES}"
    return FACES


@pytest.fixture(scope="session")
def objects_dir() -> Path:
    """Root of the real object photos (../shared/data/objects-small)."""
    assert OBJECTS.is_dir(), f"test data missing: {OBJECTS}"
    return OBJECTS


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The shared models folder (../shared/models)."""
    return MODELS


@pytest.fixture(scope="session")
def engine():
    """The default face engine (best backend whose files exist), loaded once."""
    from sightline import FaceEngine

    return FaceEngine("auto", models_dir=str(MODELS)).load()


@pytest.fixture(scope="session")
def hog_engine():
    """The zero-download dlib backend, loaded once."""
    from sightline import FaceEngine

    return FaceEngine("dlib", models_dir=str(MODELS)).load()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on 127.0.0.1 (random port, temp dir) for the whole session; stopped after."""
    from pg_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """URL of a fresh, empty database: an SQLite file under tmp_path, or a new database on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'sightline.db'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture(scope="session")
def clip(faces_dir: Path) -> Path:
    """The real Hamilton video clip (640x360 H.264, 9 s)."""
    path = faces_dir / "examples" / "short_hamilton_clip.mp4"
    assert path.is_file()
    return path


@pytest.fixture
def rtsp_server(clip):
    """A real RTSP server (GStreamer) streaming the clip at rtsp://127.0.0.1:PORT/live; killed afterwards."""
    from live_servers import LiveServer, free_port, gstreamer_rtsp_available, rtsp_argv

    assert gstreamer_rtsp_available(), "needs python3-gi and gir1.2-gst-rtsp-server-1.0 (scripts/apt-packages.txt)"
    port = free_port()
    server = LiveServer(rtsp_argv(clip, port), port)
    try:
        yield server.start()
    finally:
        server.kill()
