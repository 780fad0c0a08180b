"""``/api/v1/plates``: read plates in an image, and the watch/allow plate lists (legal basis, audit, erasure)."""

from __future__ import annotations

import threading
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from sightline.api import inference
from sightline.api.auth import Admin, Operator
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.api.uploads import image_body_schema, read_upload
from sightline.gallery.subjects import LegalBasis
from sightline.models.store import ModelStore
from sightline.plates.hashing import PlateHasher
from sightline.plates.lists import PlateLists
from sightline.plates.service import PlateService, build_plate_reader
from sightline.vision.plates.formats import REGIONS

router = APIRouter(prefix="/plates", tags=["plates"])
EntryId = PathParam(..., min_length=1, max_length=32, description="plate list entry id (pl_...)")
_LOCK = threading.Lock()


class _Plates:
    """The plate lists of one app and its readers (one per region, built on first use)."""

    def __init__(self, state: AppState) -> None:
        gallery = state.gallery
        self.lists = PlateLists(gallery.sessions, gallery.audit, PlateHasher.load(gallery.home))
        self.models_dir = state.settings.models_dir
        self.services: dict[str, PlateService] = {}

    def service(self, region: str) -> PlateService:
        with _LOCK:
            if region not in self.services:
                reader = build_plate_reader(region, store=ModelStore(self.models_dir))
                self.services[region] = PlateService(self.lists, reader)
            return self.services[region]


def _plates(state: AppState) -> _Plates:
    with _LOCK:
        plates = getattr(state, "_plates", None)
        if plates is None:
            plates = _Plates(state)
            state._plates = plates
        return plates


class EntryBody(BaseModel):
    """A plate to put on a list, with the legal basis for it."""

    model_config = ConfigDict(extra="forbid")

    list: Literal["watch", "allow"]
    plate: str = Field(min_length=1, max_length=20)
    legal_basis: LegalBasis
    purpose: str = Field(min_length=3, max_length=2000)
    retention_days: int = Field(ge=1, le=3650)
    evidence: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=500)


class LookupBody(BaseModel):
    """A plate to look up (sent in the body, so it never lands in an access log)."""

    model_config = ConfigDict(extra="forbid")

    plate: str = Field(min_length=1, max_length=20)


@router.post("/read", summary="Read licence plates in an image; list hits are audited",
             openapi_extra=image_body_schema({"image": "one image"},
                                             {"region": {"type": "string", "enum": list(REGIONS)}},
                                             required=("image",)))
async def read(request: Request, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Same JSON as one result of ``sightline plates read --json``: ``{"width", "height", "region", "plates"}``.

    Each plate has ``text`` (None when unreadable), ``confidence``, ``box`` and ``list_hits`` (``match`` is
    ``exact`` or ``fuzzy``). Plates on no list are kept only as a keyed hash.
    """
    upload = await read_upload(request, ("image",))
    name, data = upload.require("image")
    region = upload.text("region", "eu") or "eu"
    if region not in REGIONS:
        raise ApiError(422, "validation_error", f"region must be one of {', '.join(REGIONS)}")
    service = await state.run(_plates(state).service, region)
    pixels = await state.run(inference.decode, state, data)
    result = await state.run(lambda: service.read(pixels, actor=key.actor, source="api"))
    return {"image": name, **result}


@router.get("/lists", summary="Plate list entries (watch and allow)")
async def entries(list_kind: Literal["watch", "allow"] | None = Query(None, alias="list"), key: ApiKey = Operator,
                  state: AppState = Depends(get_state)) -> dict[str, Any]:
    return {"entries": await state.run(_plates(state).lists.entries, list_kind)}


@router.post("/lists", status_code=201, summary="Put a plate on a list (legal basis, purpose, retention)")
async def add(body: EntryBody, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    lists = _plates(state).lists
    return await state.run(lambda: lists.add(
        list_kind=body.list, plate=body.plate, legal_basis=body.legal_basis.value, purpose=body.purpose,
        actor=key.actor, retention_days=body.retention_days, evidence=body.evidence, note=body.note))


@router.post("/lookup", summary="Is a plate on a list? Exact and fuzzy matches; audited")
async def lookup(body: LookupBody, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    lists = _plates(state).lists
    hits = await state.run(lambda: lists.lookup(body.plate, actor=key.actor, source="api"))
    return {"hits": [h.to_dict() for h in hits]}


@router.get("/lists/{entry_id}", summary="One plate list entry")
async def show(entry_id: str = EntryId, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    return await state.run(_plates(state).lists.get, entry_id)


@router.get("/lists/{entry_id}/export", summary="Everything held about one entry (audited)")
async def export(entry_id: str = EntryId, key: ApiKey = Operator,
                 state: AppState = Depends(get_state)) -> dict[str, Any]:
    lists = _plates(state).lists
    return await state.run(lambda: lists.export(entry_id, actor=key.actor))


@router.delete("/lists/{entry_id}", summary="Erase a plate list entry and its sightings - admin only")
async def erase(entry_id: str = EntryId, reason: str = Query("request", max_length=200), key: ApiKey = Admin,
                state: AppState = Depends(get_state)) -> dict[str, Any]:
    lists = _plates(state).lists
    counts = await state.run(lambda: lists.erase(entry_id, actor=key.actor, reason=reason))
    return {"entry_id": entry_id, "erased": True, **counts}
