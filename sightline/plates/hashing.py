"""Keyed hashes of plates on no list: HMAC-SHA256 under a key kept beside the key ring, never in the database.

The key comes from ``$SIGHTLINE_PLATE_KEY`` (32 bytes, base64) or from ``$SIGHTLINE_HOME/keys/plates.hmac``
(mode 0600, made on first use). Not ``*.key``, so the encryption key ring never takes it for one of its keys.
Without the key a stored hash cannot be tested against a guessed plate (plates are a small space: a plain
hash could be reversed by trying them all).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from sightline.errors import KeyMaterialError
from sightline.privacy.crypto import decode_key, encode_key, generate_key

PLATE_KEY_ENV = "SIGHTLINE_PLATE_KEY"
PLATE_KEY_FILE = "plates.hmac"


class PlateHasher:
    """HMAC-SHA256 of normalised plate text; ``key_id`` names the key without revealing it."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.key_id = hashlib.sha256(b"sightline-plate-key-id:" + key).hexdigest()[:16]

    def hash(self, plate: str) -> str:
        """Hex digest of ``plate`` (already normalised)."""
        return hmac.new(self._key, plate.encode("ascii", "ignore"), hashlib.sha256).hexdigest()

    @classmethod
    def load(cls, home: Path, *, create: bool = True) -> PlateHasher:
        """The hasher for the data folder ``home`` (see the module docstring)."""
        env = os.environ.get(PLATE_KEY_ENV)
        if env:
            return cls(decode_key(env, origin=f"${PLATE_KEY_ENV}"))
        path = Path(home) / "keys" / PLATE_KEY_FILE
        if path.is_file():
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyMaterialError(f"plate key file {path} is readable by other users: run `chmod 600 {path}`")
            return cls(decode_key(path.read_text(), origin=str(path)))
        if not create:
            raise KeyMaterialError(f"no plate hash key: set ${PLATE_KEY_ENV} or restore {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        key = generate_key()
        tmp = path.with_name(f".{PLATE_KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # never replaces a key another process made at the same moment
        except FileExistsError:
            key = decode_key(path.read_text(), origin=str(path))
        finally:
            tmp.unlink()
        return cls(key)
