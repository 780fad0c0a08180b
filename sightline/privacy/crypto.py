"""AES-256-GCM encryption of templates and images, and the key ring behind it.

The active key comes from ``$SIGHTLINE_KEY`` (32 bytes, base64) or from a key
file ``$SIGHTLINE_HOME/keys/<key-id>.key`` (mode 0600) that ``sightline init``
creates. Every ciphertext records the id of the key that made it, so old data
stays readable while a rotation re-encrypts it; associated data binds each
ciphertext to its row (e.g. template id and subject id), so swapping
ciphertexts between rows or subjects fails authentication.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sightline.errors import KeyMaterialError

KEY_ENV = "SIGHTLINE_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
ACTIVE_FILE = "active"


def key_id_of(key: bytes) -> str:
    """Stable, non-secret identifier of a key (16 hex digits of a domain-separated sha256)."""
    return hashlib.sha256(b"sightline-key-id:" + key).hexdigest()[:16]


def generate_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def encode_key(key: bytes) -> str:
    """Base64 text form used in key files and ``$SIGHTLINE_KEY``."""
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, *, origin: str) -> bytes:
    """Parse a base64 key, refusing anything that is not exactly 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(f"{origin} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{origin} holds {len(key)} bytes; an AES-256 key is {KEY_BYTES} bytes")
    return key


def template_aad(template_id: int, subject_id: str) -> bytes:
    """Associated data binding a template ciphertext to its row and subject."""
    return f"sightline:template:{template_id}:{subject_id}".encode()


def image_aad(image_id: int, subject_id: str) -> bytes:
    """Associated data binding an enrolment-image ciphertext to its row and subject."""
    return f"sightline:image:{image_id}:{subject_id}".encode()


class KeyRing:
    """The keys this process can use: one active key for new data, older ones for reading."""

    def __init__(self, keys: dict[str, bytes], active: str, key_dir: Path | None, *, from_env: bool) -> None:
        self._keys = dict(keys)
        self._ciphers: dict[str, AESGCM] = {}
        self.active_id = active
        self.key_dir = key_dir
        self.from_env = from_env

    # -- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, home: Path, *, create: bool = False) -> KeyRing:
        """Keys from ``$SIGHTLINE_KEY`` and ``home/keys``; with ``create``, make a key file if none exists."""
        key_dir = Path(home) / "keys"
        keys = _read_key_files(key_dir)
        env = os.environ.get(KEY_ENV)
        if env:
            key = decode_key(env, origin=f"${KEY_ENV}")
            keys[key_id_of(key)] = key
            return cls(keys, key_id_of(key), key_dir, from_env=True)
        active = _read_active(key_dir)
        if active is not None and active in keys:
            return cls(keys, active, key_dir, from_env=False)
        if len(keys) == 1:
            return cls(keys, next(iter(keys)), key_dir, from_env=False)
        if not keys and create:
            ring = cls({}, "", key_dir, from_env=False)
            ring.activate(ring.add_new_key())
            return ring
        if not keys:
            raise KeyMaterialError(f"no encryption key: run `sightline init`, set ${KEY_ENV}, "
                                   f"or restore the key file in {key_dir}")
        raise KeyMaterialError(f"several key files in {key_dir} and no valid '{ACTIVE_FILE}' file naming one")

    def has(self, key_id: str) -> bool:
        return key_id in self._keys

    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    # -- encryption --------------------------------------------------------------
    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes, bytes]:
        """(key id, nonce, ciphertext+tag) of ``plaintext`` under the active key."""
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._cipher(self.active_id, self._keys[self.active_id])
        return self.active_id, nonce, cipher.encrypt(nonce, plaintext, aad)

    def _cipher(self, key_id: str, key: bytes) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = self._ciphers[key_id] = AESGCM(key)
        return cipher

    def decrypt(self, key_id: str, nonce: bytes, ciphertext: bytes, aad: bytes, *, what: str = "record") -> bytes:
        """Plaintext of a ciphertext; raises :class:`KeyMaterialError` on a missing key or failed tag."""
        key = self._keys.get(key_id)
        if key is None:
            raise KeyMaterialError(f"{what} is encrypted with key {key_id}, which is not available: set "
                                   f"${KEY_ENV} or restore {self.key_dir}/{key_id}.key")
        try:
            return self._cipher(key_id, key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise KeyMaterialError(f"{what} failed authentication: tampered with, moved, or wrong key") from None

    # -- rotation ----------------------------------------------------------------
    def add_new_key(self, key: bytes | None = None) -> str:
        """Store a new key (random unless given) as a 0600 file; returns its id. Not active yet."""
        key = key if key is not None else generate_key()
        key_id = key_id_of(key)
        self._keys[key_id] = key
        if not self.from_env:  # keys given through the environment are managed outside Sightline
            self._write_key_file(key_id, key)
        return key_id

    def activate(self, key_id: str) -> None:
        """Make ``key_id`` the key used for new data (recorded in ``keys/active``)."""
        if key_id not in self._keys:
            raise KeyMaterialError(f"unknown key {key_id}")
        self.active_id = key_id
        if self.key_dir is not None and not self.from_env:
            _atomic_write(self.key_dir / ACTIVE_FILE, key_id + "\n")

    def retire(self, key_id: str) -> None:
        """Forget ``key_id`` and overwrite then delete its key file (after nothing uses it)."""
        if key_id == self.active_id:
            raise KeyMaterialError("cannot retire the active key")
        self._keys.pop(key_id, None)
        self._ciphers.pop(key_id, None)
        if self.key_dir is not None:
            path = self.key_dir / f"{key_id}.key"
            if path.exists():
                size = path.stat().st_size
                with open(path, "r+b") as handle:
                    handle.write(os.urandom(size))
                    handle.flush()
                    os.fsync(handle.fileno())
                path.unlink()

    def _write_key_file(self, key_id: str, key: bytes) -> None:
        assert self.key_dir is not None
        self.key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        path = self.key_dir / f"{key_id}.key"
        if path.exists():
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _read_key_files(key_dir: Path) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    if not key_dir.is_dir():
        return keys
    for path in sorted(key_dir.glob("*.key")):
        key = read_private_key(path, "key file")
        keys[key_id_of(key)] = key
    return keys


def _read_active(key_dir: Path) -> str | None:
    path = key_dir / ACTIVE_FILE
    return path.read_text().strip() if path.is_file() else None


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# -- the audit chain's HMAC key ---------------------------------------------------------------------------------------
AUDIT_KEY_ENV = "SIGHTLINE_AUDIT_KEY"
AUDIT_KEY_DIR, AUDIT_KEY_FILE = "audit", "chain.hmac"  # beside the checkpoints, away from the key ring's folder


def audit_key_id(key: bytes) -> str:
    """Stable, non-secret identifier of an audit key (recorded in the chain's keyed-start row)."""
    return hashlib.sha256(b"sightline-audit-key-id:" + key).hexdigest()[:16]


def audit_key_path(home: Path) -> Path:
    """Where the audit chain's key file lives under a data home."""
    return Path(home) / AUDIT_KEY_DIR / AUDIT_KEY_FILE


def load_audit_key(home: Path | None, *, create: bool = False, also: Sequence[Path] = ()) -> bytes | None:
    """The audit chain's HMAC key: ``$SIGHTLINE_AUDIT_KEY``, else ``home/audit/chain.hmac`` (0600).

    ``also`` lists other folders whose ``audit/chain.hmac`` is used when ``home`` has none (the
    folder of an SQLite database opened from another data home). With ``create``, a missing key
    file is made in ``home`` (random 256 bits); otherwise a missing key is None. The key never
    enters the database, so rows rewritten there cannot be re-signed.
    """
    env = os.environ.get(AUDIT_KEY_ENV)
    if env:
        return decode_key(env, origin=f"${AUDIT_KEY_ENV}")
    if home is None:
        return None
    for folder in (home, *also):
        found = audit_key_path(folder)
        if found.is_file():
            return read_private_key(found, "audit key file")
    if not create:
        return None
    return create_private_key(audit_key_path(home))


def read_private_key(path: Path, what: str) -> bytes:
    """The key in a 0600 key file; :class:`KeyMaterialError` when others may read it or it is malformed."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyMaterialError(f"{what} {path} is readable by other users "
                               f"(mode {stat.filemode(mode)}): run `chmod 600 {path}`")
    return decode_key(path.read_text(), origin=str(path))


def create_private_key(path: Path) -> bytes:
    """A new random key written to ``path`` (0600, folder 0700). Atomic and never replacing: when another
    process made the file at the same moment, its key wins and is returned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = generate_key()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(encode_key(key) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        key = decode_key(path.read_text(), origin=str(path))
    finally:
        tmp.unlink()
    return key
