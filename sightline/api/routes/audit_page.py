"""``/api/v1/audit/page``: the audit page's listing, routine page views hidden unless asked for, with counts
that match the rows shown (``total``) and say how many were hidden (``hidden``).

Audit rows hold a subject's id, never a name (an erasure must leave nothing that names the person). The page
adds ``subject_names``: the current name of each enrolled subject on the page, for keys that may list subjects
(viewer and up, the same keys that see the Subjects page); a subject since erased is listed as ``null``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from sightline.api.auth import Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.keys_store import ApiKey, Role
from sightline.api.routes.audit import _bound
from sightline.privacy.audit import entry_to_dict
from sightline.store.audit_repo import AuditQuery, distinct_actions
from sightline.store.audit_view_repo import ROUTINE_ACTIONS, search_visible
from sightline.store.subjects_repo import get_subject

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
        names = _names(session, key, {e["subject_id"] for e in items if e["subject_id"]})
    state.audit_event(key, "audit.list", details={"returned": len(items), "routine": routine,
                                                  "named": sum(1 for n in names.values() if n)})
    return {"items": items, "total": total, "hidden": hidden, "limit": limit, "offset": offset, "actions": actions,
            "routine_actions": sorted(ROUTINE_ACTIONS), "subject_names": names}


def _names(session: Any, key: ApiKey, subject_ids: set[str]) -> dict[str, str | None]:
    """Name of each still-enrolled subject (None once erased), when ``key`` may list subjects; else nothing."""
    if not Role(key.role).allows(Role.VIEWER):
        return {}
    out: dict[str, str | None] = {}
    for subject_id in sorted(subject_ids):
        subject = get_subject(session, subject_id)
        out[subject_id] = subject.name if subject is not None else None
    return out
