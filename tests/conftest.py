"""Shared fixtures: where the real models and data live, and one FaceEngine per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED", REPO.parent / "shared"))
MODELS = Path(os.environ.get("SIGHTLINE_MODELS", SHARED / "models"))
DATA = Path(os.environ.get("SIGHTLINE_DATA", SHARED / "data"))
FACES = DATA / "faces-small"
OBJECTS = DATA / "objects-small"

os.environ.setdefault("SIGHTLINE_MODELS", str(MODELS))
APT = "scripts/apt-packages.txt"


def in_ci() -> bool:
    """True when the suite runs in CI (``CI=true``, as .ci/run is started)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_service(available: bool, what: str, install: str) -> None:
    """The one rule for a service the tests need (PostgreSQL, Mosquitto, ffmpeg, Chromium, GStreamer RTSP).

    Present: nothing happens. Missing in CI (``CI=true``): the test fails. Missing elsewhere: the test is
    skipped with the reason, which ``-ra`` lists at the end of the run.
    """
    if available:
        return
    message = f"{what} is not installed: {install} (see {APT})"
    if in_ci():
        pytest.fail(f"{message}; CI=true, so a missing service fails the test", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def erasure_hooks() -> None:
    """Erasure also cleans the event history, as after the server's and the CLI's start (sightline.jobs.hooks)."""
    from sightline.jobs.hooks import install_erasure_hooks

    install_erasure_hooks()


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
    from pg_server import PostgresServer, postgres_installed

    require_service(postgres_installed(), "PostgreSQL", "apt-get install postgresql")
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

    require_service(gstreamer_rtsp_available(), "the GStreamer RTSP server for /usr/bin/python3",
                    "apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good "
                    "gstreamer1.0-plugins-bad")
    port = free_port()
    server = LiveServer(rtsp_argv(clip, port), port)
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture(scope="session")
def mosquitto_installed() -> str:
    """Path of Debian's mosquitto broker (the MQTT tests start their own)."""
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    require_service(path is not None, "Mosquitto", "apt-get install mosquitto")
    return str(path)


@pytest.fixture(scope="session")
def ffmpeg_installed() -> str:
    """Path of Debian's ffmpeg (used as a live HTTP stream server)."""
    path = shutil.which("ffmpeg")
    require_service(path is not None, "ffmpeg", "apt-get install ffmpeg")
    return str(path)
