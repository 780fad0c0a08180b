"""``/api/v1/audit``: read the hash-chained audit log (filtered, paged) and verify the chain."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query

from sightline.api.auth import Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.privacy.audit import entry_to_dict, search

router = APIRouter(prefix="/audit", tags=["audit"])


BEFORE_ALL = datetime.min.replace(tzinfo=UTC).isoformat(timespec="microseconds")
AFTER_ALL = datetime.max.replace(tzinfo=UTC).isoformat(timespec="microseconds")


def _bound(value: str | None, name: str, *, end: bool) -> str | None:
    """ISO date or timestamp to the stored ``ts`` format (UTC isoformat, comparable as text).

    Moments past the ends of the calendar (``until=9999-12-31`` is the end of that day; an
    offset can push year 1 or 9999 outside it) clamp to the first or last representable
    instant, which is before or after every row.
    """
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end and day == date.max:
                return AFTER_ALL
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(422, "validation_error", f"{name} must be a date (YYYY-MM-DD) or ISO timestamp") from None
    try:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:  # only at the calendar's ends: the year tells which end
        return BEFORE_ALL if moment.year == 1 else AFTER_ALL


@router.get("", summary="Audit entries, newest first (filter by action, actor, subject, date)")
def list_entries(action: str | None = Query(None, max_length=50, description="exact action, e.g. enrol"),
                 actor: str | None = Query(None, max_length=200, description="actor contains"),
                 subject_id: str | None = Query(None, max_length=64),
                 since: str | None = Query(None, max_length=40, description="from this date/time (UTC)"),
                 until: str | None = Query(None, max_length=40, description="up to this date (inclusive)/time"),
                 limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=10_000_000),
                 key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Rows carry who, what, which subject, the outcome and their hashes; never biometric data."""
    low, high = _bound(since, "since", end=False), _bound(until, "until", end=True)
    total, rows, actions = search(state.sessions, action=action, actor_contains=actor, subject_id=subject_id,
                                  since=low, until=high, until_inclusive=not (until and len(until) == 10),
                                  limit=limit, offset=offset)
    items = [entry_to_dict(e) for e in rows]
    state.audit_event(key, "audit.list", details={"returned": len(items)})
    return {"items": items, "total": total, "limit": limit, "offset": offset, "actions": actions}


@router.get("/verify", summary="Recompute the keyed hash chain, check it against the signed checkpoints; "
                               "name the first bad row if any",
            responses={429: {"description": "too many verifications running (per key, or in all)"}})
async def verify_chain(key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Streams the chain in a read-only snapshot, in a separate lowest-priority process: writers are never
    blocked and recognition keeps the CPU. At most a few run at once (``SIGHTLINE_AUDIT_VERIFY_MAX``,
    default 4; ``SIGHTLINE_AUDIT_VERIFY_PER_KEY``, default 2): more get 429."""
    with state.verify_slots.slot(key.id):
        report = await state.verifier.verify()
    details = {"rows": report["rows"], "first_bad_seq": report["first_bad_seq"],
               "checkpoint_seq": (report["checkpoint"] or {}).get("seq")}
    await to_thread.run_sync(functools.partial(state.audit_event, key, "audit.verify",
                                               outcome="ok" if report["ok"] else "broken", details=details))
    return report
