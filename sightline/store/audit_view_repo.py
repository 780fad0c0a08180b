"""The audit page's query: the same filters as the audit listing, with routine page views left out and counted.

Read-only; the caller owns the session.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sightline.store.audit_repo import AuditQuery, filtered_entries
from sightline.store.tables import AuditEntry

# Listing a page (and checking the chain) only shows what the viewer may already see: routine. Anything that
# shows a person (a subject's record, a snapshot, an export, a live view) or changes something is not.
ROUTINE_ACTIONS = frozenset({"subjects.list", "events.list", "review.list", "audit.list", "audit.verify",
                             "keys.list", "models.list"})


def _count(session: Session, statement: Select) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def search_visible(session: Session, query: AuditQuery, *, hide: Collection[str], limit: int,
                   offset: int) -> tuple[int, int, Sequence[AuditEntry]]:
    """(rows shown in total, rows hidden as routine, one page newest first) of the rows matching ``query``.

    An explicit ``query.action`` is always shown, even when it is in ``hide``."""
    statement = filtered_entries(query)
    shown = statement if query.action or not hide else statement.where(AuditEntry.action.not_in(list(hide)))
    total = _count(session, shown)
    hidden = _count(session, statement) - total
    rows = session.scalars(shown.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).all()
    return total, hidden, rows
