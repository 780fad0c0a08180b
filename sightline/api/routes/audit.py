"""``/api/v1/audit``: read the hash-chained audit log (filtered, paged) and verify the chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from sightline.api.auth import Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.privacy.audit import entry_to_dict
from sightline.store.tables import AuditEntry

router = APIRouter(prefix="/audit", tags=["audit"])


def _bound(value: str | None, name: str, *, end: bool) -> str | None:
    """ISO date or timestamp to the stored ``ts`` format (UTC isoformat, comparable as text)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(422, "validation_error", f"{name} must be a date (YYYY-MM-DD) or ISO timestamp") from None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@router.get("", summary="Audit entries, newest first (filter by action, actor, subject, date)")
def list_entries(action: str | None = Query(None, max_length=50, description="exact action, e.g. enrol"),
                 actor: str | None = Query(None, max_length=200, description="actor contains"),
                 subject_id: str | None = Query(None, max_length=64),
                 since: str | None = Query(None, max_length=40, description="from this date/time (UTC)"),
                 until: str | None = Query(None, max_length=40, description="up to this date (inclusive)/time"),
                 limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=10_000_000),
                 key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Rows carry who, what, which subject, the outcome and their hashes; never biometric data."""
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor.icontains(actor, autoescape=True))
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    low, high = _bound(since, "since", end=False), _bound(until, "until", end=True)
    if low:
        query = query.where(AuditEntry.ts >= low)
    if high:
        query = query.where(AuditEntry.ts < high if until and len(until) == 10 else AuditEntry.ts <= high)
    with state.sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).all()
        items = [entry_to_dict(e) for e in rows]
        actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
    state.audit_event(key, "audit.list", details={"returned": len(items)})
    return {"items": items, "total": total, "limit": limit, "offset": offset, "actions": actions}


@router.get("/verify", summary="Recompute the hash chain; name the first bad row if any")
def verify_chain(key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    report = state.audit.verify()
    state.audit_event(key, "audit.verify", outcome="ok" if report.ok else "broken")
    return report.to_dict()
