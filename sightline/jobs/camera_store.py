"""Cameras added from the web UI / API: validated like ``sightline config validate``, stored in the database,
their source URL encrypted, and shown with any password masked.

A camera's settings are the keys of one camera in cameras.yaml (``url``, ``enabled``, ``fps``, ``classes``,
``zones``...), checked by :func:`sightline.video.config.parse_camera` (the validator of ``config validate``).
The source URL may hold a password (``rtsp://user:pass@cam/stream``): it is stored as AES-256-GCM ciphertext
under a 0600 key file of the data home (``camera-secrets.key``, bound to the camera's name), and every URL this
module hands out for display has its password (and query values such as ``password=``/``token=``) replaced by
``***``. A change that sends a masked URL back keeps the stored secret.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sightline.errors import ConfigError
from sightline.privacy.crypto import create_private_key, read_private_key
from sightline.store import cameras_repo
from sightline.store.cameras_repo import CameraRow
from sightline.video.config import CameraConfig, parse_camera, redact_url

log = logging.getLogger(__name__)
MASK = "***"
KEY_FILE = "camera-secrets.key"
_SECRET_QUERY = re.compile(r"pass|pwd|token|secret|key|auth|sig", re.I)


def mask_url(url: str | int) -> str:
    """``url`` for display: the password of ``user:pass@`` and secret-looking query values become ``***``."""
    return redact_url(url)


def unmask_url(new: str | int, stored: str | int | None) -> str | int:
    """``new`` with each ``***`` the UI sent back (password, secret query value) replaced by the stored secret,
    when the stored URL has the same user and host; anything else is taken as typed."""
    if isinstance(new, int) or stored is None or isinstance(stored, int) or MASK not in new:
        return new
    a, b = urlsplit(new), urlsplit(stored)
    if (a.scheme, a.hostname, a.port, a.username) != (b.scheme, b.hostname, b.port, b.username):
        return new
    netloc = a.netloc
    if a.password == MASK and b.password is not None:
        netloc = f"{a.username}:{b.password}@" + a.netloc.rsplit("@", 1)[1]
    query = a[3]  # the query string (SplitResult's fourth field)
    if MASK in query:
        old = dict(parse_qsl(b[3], keep_blank_values=True))
        query = urlencode([(k, old.get(k, v) if v == MASK else v) for k, v in parse_qsl(query, keep_blank_values=True)])
    return urlunsplit(a._replace(netloc=netloc, query=query))


@dataclass(frozen=True)
class StoredCamera:
    """A camera from the database: its validated config and who made or changed it when."""

    name: str
    config: CameraConfig
    settings: dict[str, Any]
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str


class CameraSecrets:
    """AES-GCM for camera source URLs under ``home/camera-secrets.key`` (made, 0600, on first use).

    :meth:`rotate` re-seals every stored URL under a new key. The new key is staged next to the old one
    (``camera-secrets.key.new``) before the database changes and replaces it after they commit, so a crash in
    between loses nothing: URLs are opened with the current key, then the staged one. A process that still
    holds the old key (a running server while ``privacy rotate-key`` runs) reads the key file again when a
    URL does not open with it.
    """

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / KEY_FILE
        self.staged_path = self.path.with_name(KEY_FILE + ".new")
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    def _cipher(self) -> AESGCM:
        with self._lock:
            if self._aead is None:
                key = (read_private_key(self.path, "camera secrets key file") if self.path.is_file()
                       else create_private_key(self.path))
                self._aead = AESGCM(key)
            return self._aead

    def _ciphers(self) -> list[AESGCM]:
        """The key in use, then (after a rotation elsewhere or an interrupted one) the file's and the staged key."""
        out = [self._cipher()]
        with self._lock:
            self._aead = None  # read the file again next time: another process may have rotated it
        if self.path.is_file():
            out.append(self._cipher())
        if self.staged_path.is_file():
            out.append(AESGCM(read_private_key(self.staged_path, "staged camera secrets key file")))
        return out

    def seal(self, name: str, url: str | int) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of ``url``, bound to the camera ``name``."""
        nonce = os.urandom(12)
        text = url if isinstance(url, str) else f"#webcam:{url}"
        return nonce, self._cipher().encrypt(nonce, text.encode(), f"camera:{name}".encode())

    def open(self, name: str, nonce: bytes, ciphertext: bytes) -> str | int:
        """The URL sealed by :meth:`seal` for camera ``name`` (InvalidTag when no key at hand opens it)."""
        text = self._open_text(name, nonce, ciphertext).decode()
        return int(text.removeprefix("#webcam:")) if text.startswith("#webcam:") else text

    def _open_text(self, name: str, nonce: bytes, ciphertext: bytes) -> bytes:
        aad = f"camera:{name}".encode()
        try:
            return self._cipher().decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            for cipher in self._ciphers()[1:]:
                try:
                    return cipher.decrypt(nonce, ciphertext, aad)
                except InvalidTag:
                    continue
            raise

    def rotate(self, sessions: Any, audit: Any, *, actor: str) -> dict[str, Any]:
        """Re-seal every stored camera URL under a new key, audited, then destroy the old key file.

        Returns ``{"cameras": re-sealed, "unreadable": names no key opens (left as they are)}``; nothing to do
        (and no key made) when this data home has never stored a camera URL.
        """
        if not self.path.is_file():
            return {"cameras": 0, "unreadable": [], "rotated": False}
        new_key = create_private_key(self.staged_path)  # an interrupted rotation's staged key is reused
        new = AESGCM(new_key)
        done, unreadable = 0, []
        with sessions.begin() as session:
            for row in cameras_repo.list_cameras(session):
                try:
                    text = self._open_text(row.name, row.url_nonce, row.url_ciphertext)
                except InvalidTag:
                    unreadable.append(row.name)
                    continue
                nonce = os.urandom(12)
                cameras_repo.reseal_camera(session, row.name, nonce,
                                           new.encrypt(nonce, text, f"camera:{row.name}".encode()))
                done += 1
            audit.append(session, actor=actor, action="camera_key_rotation",
                         details={"cameras": done, "unreadable": unreadable})
        with self._lock, open(self.path, "r+b") as old:  # the old key file, held open past the swap
            os.replace(self.staged_path, self.path)  # atomic: the file holds the old key or the new, never neither
            _wipe(old)
            self._aead = new
        return {"cameras": done, "unreadable": unreadable, "rotated": True}


def _wipe(handle: Any) -> None:
    """Zero an open (already replaced) key file's bytes, so the old key is not left in its blocks."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    handle.write(b"\0" * size)
    handle.flush()
    os.fsync(handle.fileno())


def validate(name: str, body: dict[str, Any]) -> CameraConfig:
    """One camera's settings checked exactly as ``sightline config validate`` checks a file's camera."""
    return parse_camera(name, body, source="camera")


def settings_of(config: CameraConfig, body: dict[str, Any]) -> dict[str, Any]:
    """What is stored besides the URL: the validated settings that were given (defaults stay defaults)."""
    given = {key for key in body if key != "url"}
    return config.model_dump(mode="json", include=given, exclude={"url"})


def _iso(row: CameraRow, when: str) -> str:
    return getattr(row, when).isoformat().replace("+00:00", "Z")


def load(session: Any, secrets: CameraSecrets) -> dict[str, StoredCamera]:
    """Every stored camera, decrypted and validated again (a row that no longer validates is skipped)."""
    out: dict[str, StoredCamera] = {}
    for row in cameras_repo.list_cameras(session):
        try:
            url = secrets.open(row.name, row.url_nonce, row.url_ciphertext)
        except InvalidTag:  # camera-secrets.key lost or replaced: say so, keep the others running
            log.warning("stored camera %s: its source URL cannot be decrypted (is %s the key it was saved with?): "
                        "not started; add it again", row.name, secrets.path)
            continue
        try:
            config = validate(row.name, {**row.settings, "url": url, "enabled": row.enabled})
        except ConfigError as exc:  # e.g. a class a newer model list dropped: keep the others running
            log.warning("stored camera %s no longer validates (%s): not started", row.name, exc.code)
            continue
        out[row.name] = StoredCamera(row.name, config, row.settings, _iso(row, "created_at"), row.created_by,
                                     _iso(row, "updated_at"), row.updated_by)
    return out


def save(session: Any, secrets: CameraSecrets, name: str, config: CameraConfig, body: dict[str, Any], *,
         actor: str, new: bool) -> bool:
    """Insert (``new``) or replace camera ``name``; False when replacing a camera that is not stored."""
    nonce, sealed = secrets.seal(name, config.url)
    settings = settings_of(config, body)
    settings.pop("enabled", None)
    if new:
        cameras_repo.insert_camera(session, name, settings, nonce, sealed, enabled=config.enabled, actor=actor)
        return True
    return cameras_repo.update_camera(session, name, settings, nonce, sealed, enabled=config.enabled, actor=actor)
