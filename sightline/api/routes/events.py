"""``/api/v1/events``: camera events (filtered, paged), one event, and its snapshot (operator: it shows people)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from sightline.api.auth import Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.events.models import Event, EventType
from sightline.events.store import count_events, event_facets, get_event, query_events
from sightline.video.config import NAME_PATTERN

router = APIRouter(prefix="/events", tags=["events"])

EventId = PathParam(..., min_length=1, max_length=36, description="event id (a UUID)")
MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024


def _moment(value: str | None, name: str, *, end: bool) -> datetime | None:
    """A date (YYYY-MM-DD; ``until`` includes the whole day) or an ISO timestamp, as aware UTC."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ApiError(422, "validation_error", f"{name} must be a date (YYYY-MM-DD) or ISO timestamp") from None


def _types(value: str | None) -> list[str]:
    types = [t.strip() for t in (value or "").split(",") if t.strip()]
    known = {t.value for t in EventType}
    bad = [t for t in types if t not in known]
    if bad:
        raise ApiError(422, "validation_error", f"unknown event type {bad[0]!r}: use {', '.join(sorted(known))}")
    return types


def event_dict(event: Event) -> dict[str, Any]:
    """The event's JSON, with the snapshot's server path replaced by its API URL."""
    out = event.to_dict()
    out["snapshot_url"] = f"/api/v1/events/{event.id}/snapshot" if out.pop("snapshot") else None
    return out


def _facets(state: AppState) -> dict[str, Any]:
    """The values the filters can take (cameras, labels, types and the people seen so far)."""
    with state.sessions() as session:
        return event_facets(session)


@router.get("", summary="Camera events, newest first (filter by camera, label, type, person, time)")
def list_events(camera: str | None = Query(None, max_length=64, pattern=NAME_PATTERN),
                label: str | None = Query(None, max_length=50),
                type_: str | None = Query(None, alias="type", max_length=200,
                                          description="event type, or several separated by commas"),
                subject_id: str | None = Query(None, max_length=32, description="enrolled subject seen (id)"),
                since: str | None = Query(None, max_length=40, description="from this date/time (UTC)"),
                until: str | None = Query(None, max_length=40, description="up to this date (inclusive)/time"),
                limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0, le=10_000_000),
                facets: bool = Query(True, description="also return the values each filter can take"),
                key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Events as stored by the cameras (``track_start``, ``track_end``, ``person_seen``, ``unknown_person``,
    zone events). Only ``person_seen`` events name someone, and only an enrolled subject."""
    filters: dict[str, Any] = {"camera": camera, "label": label, "subject_id": subject_id,
                               "type": _types(type_) or None, "since": _moment(since, "since", end=False),
                               "until": _moment(until, "until", end=True)}
    with state.sessions() as session:
        total = count_events(session, **filters)
        items = [event_dict(e) for e in query_events(session, limit=limit, offset=offset, **filters)]
    state.audit_event(key, "events.list", subject_id=subject_id, details={"returned": len(items)})
    out: dict[str, Any] = {"items": items, "total": total, "limit": limit, "offset": offset}
    if facets:
        out["facets"] = _facets(state)
    return out


@router.get("/{event_id}", summary="One event")
def show_event(event_id: str = EventId, key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    with state.sessions() as session:
        event = get_event(session, event_id)
    state.audit_event(key, "events.show", subject_id=event.subject_id, details={"event_id": event.id})
    return event_dict(event)


@router.get("/{event_id}/snapshot", summary="The event's snapshot (JPEG; faces of people not enrolled are blurred)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def event_snapshot(event_id: str = EventId, key: ApiKey = Operator,
                         state: AppState = Depends(get_state)) -> Response:
    """Needs the operator role: a snapshot is an image of people. Every view is audited."""

    def read() -> tuple[Event, bytes]:
        with state.sessions() as session:
            event = get_event(session, event_id)
        if not event.snapshot:
            raise ApiError(404, "no_snapshot", f"event {event_id} has no snapshot")
        path = Path(event.snapshot)
        try:
            if path.suffix.lower() != ".jpg" or not path.is_file() or path.stat().st_size > MAX_SNAPSHOT_BYTES:
                raise FileNotFoundError(path)
            return event, path.read_bytes()
        except OSError:
            raise ApiError(404, "no_snapshot", f"the snapshot of event {event_id} is gone (retention)") from None

    event, data = await state.run(read)
    state.audit_event(key, "events.snapshot", subject_id=event.subject_id,
                      details={"event_id": event.id, "camera": event.camera})
    return Response(data, media_type="image/jpeg",
                    headers={"Content-Disposition": f'inline; filename="{event.id}.jpg"'})
