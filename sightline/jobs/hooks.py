"""What the server and the CLI install explicitly at start, so no store relies on a lazy import to be covered.

- :func:`install_erasure_hooks`: every subject erasure also unlinks the subject from the event history (person_seen
  rows and their unblurred snapshots), in the same transaction.
- :func:`install_retention_purges`: every retention sweep also purges expired plate-list entries and old plate
  sightings, and change-feed rows every replica has applied (``sightline.gallery.change_feed``).

:func:`install_hooks` does both; every function is idempotent.
"""

from __future__ import annotations

from sightline.checkout.hooks import install_checkout_hooks
from sightline.events.store import unlink_subject
from sightline.gallery.change_feed import purge_feed
from sightline.plates.service import install_plate_retention
from sightline.privacy.erasure import register_erasure_hook
from sightline.privacy.retention import register_purge

EVENTS_HOOK = "events"
CHANGE_FEED = "gallery_changes"


def install_erasure_hooks() -> None:
    """Make every subject erasure also unlink the subject from the event history (same transaction)."""
    register_erasure_hook(EVENTS_HOOK, unlink_subject)


def install_retention_purges() -> None:
    """Make every retention sweep (server job or ``sightline privacy sweep``) cover the plate store too."""
    install_plate_retention()
    register_purge(CHANGE_FEED, purge_feed)


def install_hooks() -> None:
    """Everything a server or CLI process installs before it serves a request or runs a command."""
    install_erasure_hooks()
    install_retention_purges()
    install_checkout_hooks()  # checkout sessions: erasure, export, retention
