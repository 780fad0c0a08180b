"""``/api/v1/audit/page``: the audit page's listing, routine page views hidden unless asked for, with counts
that match the rows shown (``total``) and say how many were hidden (``hidden``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from sightline.api.auth import Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.keys_store import ApiKey
from sightline.api.routes.audit import _bound
from sightline.privacy.audit import entry_to_dict
from sightline.store.audit_repo import AuditQuery, distinct_actions
from sightline.store.audit_view_repo import ROUTINE_ACTIONS, search_visible

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/page", summary="Audit entries for the web page: routine page views hidden by default, counted")
def audit_page(action: str | None = Query(None, max_length=50, description="exact action (always shown)"),
               actor: str | None = Query(None, max_length=200, description="actor contains"),
               subject_id: str | None = Query(None, max_length=64),
               since: str | None = Query(None, max_length=40, description="from this date/time (UTC)"),
               until: str | None = Query(None, max_length=40, description="up to this date (inclusive)/time"),
               routine: bool = Query(False, description="also show routine page views (listings, chain checks)"),
               limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0, le=10_000_000),
               key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Like ``GET /audit``; ``total`` counts exactly the rows this listing pages through."""
    query = AuditQuery(action, actor, subject_id, _bound(since, "since", end=False), _bound(until, "until", end=True),
                       not (until and len(until) == 10))
    with state.sessions() as session:
        total, hidden, rows = search_visible(session, query, hide=() if routine else ROUTINE_ACTIONS,
                                             limit=limit, offset=offset)
        items = [entry_to_dict(e) for e in rows]
        actions = distinct_actions(session)
    state.audit_event(key, "audit.list", details={"returned": len(items), "routine": routine})
    return {"items": items, "total": total, "hidden": hidden, "limit": limit, "offset": offset, "actions": actions,
            "routine_actions": sorted(ROUTINE_ACTIONS)}
