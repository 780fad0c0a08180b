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
from pathlib import Path

from sightline.errors import KeyMaterialError
from sightline.privacy.crypto import create_private_key, decode_key, read_private_key

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
            return cls(read_private_key(path, "plate key file"))
        if not create:
            raise KeyMaterialError(f"no plate hash key: set ${PLATE_KEY_ENV} or restore {path}")
        return cls(create_private_key(path))
