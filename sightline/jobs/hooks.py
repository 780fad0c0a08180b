"""Hooks installed explicitly at start (server and CLI): the stores beyond the gallery that erasure must clean.

Call :func:`install_erasure_hooks` once before anything erases a subject; it is idempotent. Today the event
history is the one such store (person_seen rows and their unblurred snapshots).
"""

from __future__ import annotations

from sightline.events.store import unlink_subject
from sightline.privacy.erasure import register_erasure_hook

EVENTS_HOOK = "events"


def install_erasure_hooks() -> None:
    """Make every subject erasure also unlink the subject from the event history (same transaction)."""
    register_erasure_hook(EVENTS_HOOK, unlink_subject)
