"""Retention sweep: erase subjects whose retention date has passed, and purge old records.

Run by ``sightline privacy sweep`` (and on a schedule by the server). Other
modules that keep dated personal data (e.g. recognition events) register a
purge function with :func:`register_purge` so the same sweep covers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sightline.store.subjects_repo import expired_before

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from sightline.privacy.audit import AuditLog


class Gallery(Protocol):
    """What a sweep needs of the gallery (:class:`sightline.gallery.gallery.Gallery`); privacy does not import it."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def audit(self) -> AuditLog: ...

    def erase(self, subject_id: str, *, actor: str | None = None, reason: str = "request") -> Any: ...

PurgeFn = Callable[["Session", datetime], int]
_PURGES: dict[str, PurgeFn] = {}


def register_purge(name: str, purge: PurgeFn) -> None:
    """Add ``purge(session, now) -> rows deleted`` to every sweep (e.g. events older than their retention)."""
    _PURGES[name] = purge


@dataclass
class SweepReport:
    """What one sweep erased or purged."""

    now: str
    erased: list[str] = field(default_factory=list)
    purged: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def expired_subjects(gallery: Gallery, now: datetime | None = None) -> list[str]:
    """Ids of subjects whose retention date is before ``now``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with gallery.sessions() as session:
        return expired_before(session, now)


def sweep(gallery: Gallery, *, now: datetime | None = None, actor: str = "retention-sweep",
          dry_run: bool = False) -> SweepReport:
    """Erase every subject past retention (audited as erasures with reason ``retention_expired``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    report = SweepReport(now=now.isoformat(), dry_run=dry_run)
    report.erased = expired_subjects(gallery, now)
    if dry_run:
        return report
    for subject_id in report.erased:
        gallery.erase(subject_id, actor=actor, reason="retention_expired")
    for name, purge in sorted(_PURGES.items()):
        with gallery.sessions.begin() as session:
            report.purged[name] = int(purge(session, now))
    gallery.audit.record(actor=actor, action="retention_sweep",
                         details={"erased": len(report.erased), "purged": report.purged})
    return report
