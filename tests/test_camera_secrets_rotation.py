"""``privacy rotate-key`` also re-seals the source URLs of cameras added from the UI under a new key."""

from __future__ import annotations

import json
import stat

from typer.testing import CliRunner

from sightline.cli import app
from sightline.gallery.gallery import Gallery
from sightline.jobs import camera_store
from sightline.jobs.camera_store import CameraSecrets
from sightline.store import cameras_repo

URLS = {"gate": "rtsp://admin:s3cret-pass@127.0.0.1:8554/gate", "desk": "http://127.0.0.1:8080/video?token=abc123"}


def _store_cameras(gallery: Gallery, secrets: CameraSecrets) -> None:
    with gallery.sessions.begin() as session:
        for name, url in URLS.items():
            body = {"url": url, "fps": 5}
            camera_store.save(session, secrets, name, camera_store.validate(name, body), body, actor="pytest",
                              new=True)


def test_rotation_reseals_every_camera_url_and_destroys_the_old_key(tmp_path, engine):
    home = tmp_path / "home"
    with Gallery.open(home, None, engine) as gallery:
        running = CameraSecrets(home)  # a server's copy, made before the rotation
        _store_cameras(gallery, running)
        old_key = running.path.read_bytes()
        with gallery.sessions() as session:
            before = {r.name: r.url_ciphertext for r in cameras_repo.list_cameras(session)}
            assert {n: running.open(n, r.url_nonce, r.url_ciphertext)
                    for n, r in ((r.name, r) for r in cameras_repo.list_cameras(session))} == URLS

    result = CliRunner().invoke(app, ["privacy", "rotate-key", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["camera_urls"]
    assert report == {"cameras": 2, "unreadable": [], "rotated": True}

    key_file = home / camera_store.KEY_FILE
    assert key_file.read_bytes() != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (home / (camera_store.KEY_FILE + ".new")).exists()
    with Gallery.open(home, None, engine) as gallery:
        with gallery.sessions() as session:
            rows = cameras_repo.list_cameras(session)
            assert all(r.url_ciphertext != before[r.name] for r in rows)
            assert {n: c.config.url for n, c in camera_store.load(session, CameraSecrets(home)).items()} == URLS
            # the running server's copy still holding the old key reads the rotated file again
            assert {n: c.config.url for n, c in camera_store.load(session, running).items()} == URLS
        entries = [e for e in gallery.audit.tail(20) if e.action == "camera_key_rotation"]
        assert len(entries) == 1 and json.loads(entries[0].details) == {"cameras": 2, "unreadable": []}
        assert gallery.audit.verify().ok


def test_an_interrupted_rotation_loses_no_url(tmp_path, engine):
    """The database committed under the staged key but the key file was not swapped yet: URLs still open,
    and the next rotation finishes the job with the staged key."""
    home = tmp_path / "home"
    with Gallery.open(home, None, engine) as gallery:
        secrets = CameraSecrets(home)
        _store_cameras(gallery, secrets)
        staged = CameraSecrets(home)
        staged.path = staged.staged_path  # seal under a key that exists only as the staged file
        with gallery.sessions.begin() as session:
            for name, url in URLS.items():
                nonce, sealed = staged.seal(name, url)
                cameras_repo.reseal_camera(session, name, nonce, sealed)
        with gallery.sessions() as session:
            assert {n: c.config.url for n, c in camera_store.load(session, CameraSecrets(home)).items()} == URLS
        assert secrets.rotate(gallery.sessions, gallery.audit, actor="pytest")["cameras"] == 2
        with gallery.sessions() as session:
            assert {n: c.config.url for n, c in camera_store.load(session, CameraSecrets(home)).items()} == URLS


def test_a_home_without_ui_cameras_gets_no_camera_key(tmp_path, engine):
    home = tmp_path / "home"
    with Gallery.open(home, None, engine) as gallery:
        assert CameraSecrets(home).rotate(gallery.sessions, gallery.audit, actor="pytest")["rotated"] is False
    assert not (home / camera_store.KEY_FILE).exists()
