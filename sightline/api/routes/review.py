"""``/api/v1/review``: camera events grouped into review items (one per track), the reviewed mark, and each item's
frame strip (a few frames across the track's life, every face blurred; operator, audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sightline.api.auth import Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.api.routes.events import MAX_SNAPSHOT_BYTES, EventId, _moment
from sightline.events.store import event_facets, get_event
from sightline.store.events_repo import EventQuery
from sightline.store.review_repo import mark_reviewed, review_items, zones_seen
from sightline.video.config import NAME_PATTERN

router = APIRouter(prefix="/review", tags=["review"])


class ReviewMark(BaseModel):
    """Which events to mark (a review item's ``event_ids``), and whether they are reviewed."""

    event_ids: list[str] = Field(min_length=1, max_length=1000)
    reviewed: bool = True


@router.get("", summary="Review items: events grouped per track, newest first (filter by camera, zone, person, "
                        "time, reviewed)")
def list_items(camera: str | None = Query(None, max_length=64, pattern=NAME_PATTERN),
               zone: str | None = Query(None, max_length=100),
               subject_id: str | None = Query(None, max_length=32, description="enrolled subject seen (id)"),
               since: str | None = Query(None, max_length=40, description="from this date/time (UTC)"),
               until: str | None = Query(None, max_length=40, description="up to this date (inclusive)/time"),
               reviewed: bool | None = Query(None, description="only reviewed (true) or unreviewed (false) items"),
               limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0, le=1_000_000),
               key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Each item: camera, label, time span, event types, zones, the enrolled people named (never anyone
    else), whether an unknown face was seen, the event whose snapshot shows it best, the event whose frame strip
    shows the track (``strip_event_id``, for ``/review/strip/{id}``), and the reviewed mark."""
    query = EventQuery(camera=camera, since=_moment(since, "since", end=False), until=_moment(until, "until", end=True))
    with state.sessions() as session:
        items, truncated = review_items(session, query, subject_id=subject_id, zone=zone, reviewed=reviewed)
        page = [{**item.to_dict(), "strip_event_id": _strip_event(item.rows)} for item in items[offset:offset + limit]]
        facets = {**event_facets(session), "zones": zones_seen(session)}
    state.audit_event(key, "review.list", subject_id=subject_id, details={"returned": len(page)})
    return {"items": page, "total": len(items), "limit": limit, "offset": offset, "truncated": truncated,
            "facets": facets}


@router.post("/reviewed", summary="Mark a review item's events reviewed (or not reviewed again)")
def set_reviewed(body: ReviewMark, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    with state.sessions.begin() as session:
        rows = mark_reviewed(session, body.event_ids, reviewed=body.reviewed, by=key.actor)
        changed = [row.id for row in rows]
    state.audit_event(key, "review.mark", details={"reviewed": body.reviewed, "events": len(changed)})
    return {"reviewed": body.reviewed, "event_ids": changed}


def _strip_event(rows: list[Any]) -> str | None:
    """The id of the item's event that names a frame strip (its track_end), if any."""
    return next((r.id for r in rows if r.type == "track_end" and (r.data or {}).get("strip")), None)


@router.get("/strip/{event_id}", summary="A review item's frame strip (JPEG: frames across the track, every face "
                                         "blurred)", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
async def frame_strip(event_id: str = EventId, key: ApiKey = Operator,
                      state: AppState = Depends(get_state)) -> Response:
    """Operator role, like snapshots (it shows people, faces blurred); every view is audited. 404 once retention
    removed it."""

    def read() -> bytes:
        with state.sessions() as session:
            event = get_event(session, event_id)
        strip = (event.data or {}).get("strip")
        if not strip:
            raise ApiError(404, "no_strip", f"event {event_id} has no frame strip")
        path = Path(str(strip))
        try:
            if not path.name.startswith("strip-") or path.suffix.lower() != ".jpg" or not path.is_file() \
                    or path.stat().st_size > MAX_SNAPSHOT_BYTES:
                raise FileNotFoundError(path)
            return path.read_bytes()
        except OSError:
            raise ApiError(404, "no_strip", f"the frame strip of event {event_id} is gone (retention)") from None

    data = await state.run(read)
    state.audit_event(key, "review.strip", details={"event_id": event_id})
    return Response(data, media_type="image/jpeg",
                    headers={"Content-Disposition": f'inline; filename="strip-{event_id}.jpg"'})
