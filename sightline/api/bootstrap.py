"""First-run set-up shared by ``sightline init``, ``sightline serve`` and ``sightline keys``."""

from __future__ import annotations

from sightline.api.keys_store import KeyStore, NewKey, Role
from sightline.gallery.gallery import Gallery


def ensure_admin_key(gallery: Gallery, *, actor: str) -> NewKey | None:
    """Create an admin key if there is no active one; returns it (its token is the only copy) or None."""
    keys = KeyStore(gallery.sessions)
    if keys.has_active_admin():
        return None
    new = keys.create("bootstrap-admin", Role.ADMIN, created_by=actor)
    gallery.audit.record(actor=actor, action="keys.create", details={"key_id": new.key.id, "role": "admin",
                                                                     "bootstrap": True})
    return new
