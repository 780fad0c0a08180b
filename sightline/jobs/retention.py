"""One retention run: erase subjects past their retention date, delete old events and snapshots; all audited.

Subjects are swept always (:func:`sightline.privacy.retention.sweep`, one audited erasure each). Events and
snapshot files are purged only when a camera config says how long to keep them (:class:`EventRetention`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sightline.events.snapshots import purge_snapshot_files
from sightline.events.store import apply_retention
from sightline.privacy.retention import sweep

if TYPE_CHECKING:
    from sightline.gallery.gallery import Gallery


@dataclass(frozen=True)
class EventRetention:
    """How long camera events and their snapshots are kept, and where the snapshot files are."""

    event_days: int
    snapshot_days: int
    snapshot_dir: Path


@dataclass
class RetentionReport:
    """What one retention run did."""

    at: str
    subjects_erased: int = 0
    events: dict[str, Any] = field(default_factory=dict)
    orphan_snapshots_deleted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_retention(gallery: Gallery, *, actor: str, events: EventRetention | None = None) -> RetentionReport:
    """Erase expired subjects (audited by the sweep) and, with ``events``, purge old events (audited here) and
    stray snapshot files."""
    swept = sweep(gallery, actor=actor)
    report = RetentionReport(at=swept.now, subjects_erased=len(swept.erased))
    if events is None:
        return report
    with gallery.sessions.begin() as session:
        removed = apply_retention(session, events.event_days, events.snapshot_days)
        gallery.audit.append(session, actor=actor, action="events.retention",
                             details={**removed.to_dict(), "event_days": events.event_days,
                                      "snapshot_days": events.snapshot_days})
    report.events = removed.to_dict()
    report.orphan_snapshots_deleted = purge_snapshot_files(events.snapshot_dir, events.snapshot_days)
    return report
