"""First-run set-up shared by ``sightline init``, ``sightline serve`` and ``sightline keys``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from sightline.api.keys_store import KeyStore, NewKey, Role
from sightline.gallery.gallery import Gallery

BOOTSTRAP_KEY_FILE = "bootstrap-admin-key"


def ensure_admin_key(gallery: Gallery, *, actor: str) -> NewKey | None:
    """Create an admin key if there is no active one; returns it (its token is the only copy) or None."""
    keys = KeyStore(gallery.sessions)
    if keys.has_active_admin():
        return None
    new = keys.create("bootstrap-admin", Role.ADMIN, created_by=actor)
    gallery.audit.record(actor=actor, action="keys.create", details={"key_id": new.key.id, "role": "admin",
                                                                     "bootstrap": True})
    return new


def announce_admin_key(new: NewKey, home: Path, stream: TextIO | None = None) -> Path | None:
    """Hand the bootstrap admin key to the person starting the server, never to a log.

    On a terminal (``stream``, default stdout, is a TTY) the token is printed once. Otherwise the output
    is being captured (systemd, docker, ``make run > log``) and would keep the key in logs: the token
    goes to ``HOME/bootstrap-admin-key`` (mode 0600) instead and only that path is printed. Returns the
    file written, or None when the token was printed.
    """
    stream = stream or sys.stdout
    if _is_terminal(stream):
        stream.write("Created the first admin API key (shown once; store it safely):\n"
                     f"  {new.token}\n"
                     "Create more with `sightline keys create --role operator`.\n")
        stream.flush()
        return None
    path = Path(home) / BOOTSTRAP_KEY_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(new.token + "\n")
    stream.write(f"Created the first admin API key in {path} (mode 0600; not printed, since this output is "
                 "not a terminal): read it, store it safely, then delete the file.\n")
    stream.flush()
    return path


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
