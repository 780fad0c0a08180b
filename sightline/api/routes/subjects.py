"""``/api/v1/subjects``: create (with legal basis), list/search, show, add/remove faces, erase, export."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from sightline.api import inference
from sightline.api.auth import Admin, Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.api.uploads import Upload, image_body_schema, read_upload
from sightline.errors import LegalBasisError
from sightline.gallery.subjects import LegalBasis
from sightline.gallery.thresholds import ThresholdError

router = APIRouter(prefix="/subjects", tags=["subjects"])

SubjectId = PathParam(..., min_length=1, max_length=64, description="subject id (32 hex digits)")
_CONSENT_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "legal_basis": {"type": "string", "enum": [b.value for b in LegalBasis]},
    "purpose": {"type": "string", "minLength": 3, "maxLength": 2000},
    "evidence": {"type": "string", "maxLength": 500, "description": "e.g. consent form id (required for consent)"},
    "retain_until": {"type": "string", "format": "date", "description": "erase after this date (or retention_days)"},
    "retention_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "store_images": {"type": "boolean", "description": "also keep the (encrypted) enrolment photos"},
}


@router.post("", status_code=201, summary="Create a subject with their legal basis, optionally with photos",
             openapi_extra=image_body_schema({"image": "enrolment photos (optional)"}, _CONSENT_FIELDS,
                                             required=("name", "legal_basis", "purpose")))
async def create_subject(request: Request, key: ApiKey = Operator,
                         state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Refused (422 ``legal_basis_required``) without a lawful basis, a purpose and a retention date;
    consent also needs an evidence reference. The subject and the photos sent along are stored in one
    transaction: if no photo is usable, or the server dies half-way, no subject is kept."""
    upload = await read_upload(request, ("image",))
    fields = _consent_fields(upload)
    store_images = _flag(upload, "store_images")
    images = upload.files.get("image") or []
    if not images:
        return await state.run(lambda: state.gallery.create_subject(actor=key.actor, enrolled_by=key.actor,
                                                                    **fields))
    record, results = await state.run(_create_with_images, state, fields, images, store_images, key.actor)
    record["enrolment"] = results
    return record


def _create_with_images(state: AppState, fields: dict[str, Any], images: list[tuple[str, bytes]],
                        store_images: bool, actor: str) -> tuple[dict[str, Any], list[dict[str, object]]]:
    with state.metrics.time_inference(state.engine.spec.embedder, "enrol"):
        record, results = state.gallery.enrolment.create_with_images(
            None, [(name[:200], data) for name, data in images], store_images=store_images, actor=actor,
            enrolled_by=actor, **fields)
    state.update_gallery_gauge()
    return dict(record), [r.to_dict() for r in results]


def _consent_fields(upload: Upload) -> dict[str, Any]:
    fields: dict[str, Any] = {name: upload.text(name) for name in ("name", "legal_basis", "purpose", "evidence")}
    fields["evidence"] = fields["evidence"] or None
    until = upload.text("retain_until")
    if until:
        try:
            fields["retain_until"] = date.fromisoformat(until) if len(until) == 10 else datetime.fromisoformat(until)
        except ValueError:
            raise LegalBasisError(f"retain_until must be a date (YYYY-MM-DD), got {until!r}") from None
    fields["retention_days"] = upload.number("retention_days", None, low=1, high=3650, integer=True)
    return fields


def _flag(upload: Upload, name: str) -> bool:
    value = upload.fields.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        return value.lower() in ("1", "true", "yes", "on")
    raise ApiError(422, "validation_error", f"field {name!r} must be true or false")


def _enrol_all(state: AppState, subject_id: str, images: list[tuple[str, bytes]], store_images: bool,
               actor: str) -> list[dict[str, object]]:
    """Every photo in one transaction (all accepted templates land, or none do); 422 if none is usable."""
    with state.metrics.time_inference(state.engine.spec.embedder, "enrol"):
        results = state.gallery.enrolment.enroll_batch(subject_id, [(name[:200], data) for name, data in images],
                                                       store_images=store_images, actor=actor)
    state.update_gallery_gauge()
    return [r.to_dict() for r in results]


@router.get("", summary="List subjects (paged, searchable by name or id prefix)")
def list_subjects(q: str | None = Query(None, max_length=200, description="name contains / id starts with"),
                  limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10_000_000),
                  key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Subjects with legal basis, purpose, retention and template counts; never biometric data."""
    total, items = state.gallery.subjects.search_page(q, limit, offset)
    state.audit_event(key, "subjects.list", details={"q": bool(q), "returned": len(items)})
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/{subject_id}", summary="One subject and their template metadata")
def show_subject(subject_id: str = SubjectId, key: ApiKey = Viewer,
                 state: AppState = Depends(get_state)) -> dict[str, Any]:
    record = state.gallery.show(subject_id)
    state.audit_event(key, "subjects.show", subject_id=subject_id)
    return record


@router.post("/{subject_id}/faces", status_code=201, summary="Enrol more photos of a subject",
             openapi_extra=image_body_schema({"image": "enrolment photos"},
                                             {"store_images": _CONSENT_FIELDS["store_images"]}, required=("image",)))
async def add_faces(request: Request, subject_id: str = SubjectId, key: ApiKey = Operator,
                    state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Each photo passes the quality gate or is reported as rejected; 422 if none was accepted. The accepted
    photos are stored in one transaction."""
    upload = await read_upload(request, ("image",))
    images = upload.files.get("image") or []
    if not images:
        raise ApiError(422, "validation_error", "image field 'image' is required")
    store_images = _flag(upload, "store_images")
    await state.run(state.gallery.show, subject_id)  # 404 before any work
    results = await state.run(_enrol_all, state, subject_id, images, store_images, key.actor)
    accepted = sum(1 for r in results if r["accepted"])
    return {"subject_id": subject_id, "accepted": accepted, "rejected": len(results) - accepted, "results": results}


@router.delete("/{subject_id}/faces/{template_id}", summary="Remove one template of a subject")
async def remove_face(subject_id: str = SubjectId, template_id: int = PathParam(..., ge=1, le=2**62),
                      key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Deletes the template (and its stored photo, if any), flushes it out of the WAL and takes it out of the
    search index, like an erasure."""
    result = await state.run(lambda: state.gallery.enrolment.remove_template(subject_id, template_id,
                                                                             actor=key.actor))
    state.update_gallery_gauge()
    return result


_BOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
        "description": "[x1, y1, x2, y2] of the wrongly identified face (else the face most like the subject)"}


@router.post("/{subject_id}/negatives", status_code=201,
             summary='"Not this person": a face wrongly matched to this subject becomes a negative example',
             openapi_extra=image_body_schema(
                 {"image": "the photo in which the face was wrongly identified"},
                 {"box": _BOX, "event_id": {"type": "string", "maxLength": 64,
                                            "description": "a person_seen event that named the wrong person"}}))
async def add_negative(request: Request, subject_id: str = SubjectId, key: ApiKey = Operator,
                       state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Send the photo (and the face's ``box``) or a ``person_seen`` ``event_id``. The face is stored as an
    encrypted negative example of the subject (erased and exported with them); from then on a match to this
    subject must beat it by a margin. Audited as ``negative_add``."""
    upload = await read_upload(request, ("image",))
    event_id = upload.text("event_id")
    image = upload.one("image")
    if bool(event_id) == (image is not None):
        raise ApiError(422, "validation_error", "send either an image (with an optional box) or an event_id")
    if event_id:
        return await state.run(lambda: state.gallery.corrections.mark_event_wrong(
            event_id[:64], subject_id=subject_id, actor=key.actor))
    box = _box(upload)
    assert image is not None
    return await state.run(_mark_image, state, subject_id, image[1], box, key.actor)


def _mark_image(state: AppState, subject_id: str, data: bytes, box: list[float] | None,
                actor: str) -> dict[str, Any]:
    state.gallery.show(subject_id)  # 404 before decoding
    return state.gallery.corrections.mark_not_subject(subject_id, inference.decode(state, data), box=box,
                                                      actor=actor)


def _box(upload: Upload) -> list[float] | None:
    raw = upload.fields.get("box")
    if raw is None or raw == "":
        return None
    parts = raw.replace("[", "").replace("]", "").split(",") if isinstance(raw, str) else raw
    try:
        if not isinstance(parts, list) or len(parts) != 4 or any(isinstance(v, bool) for v in parts):
            raise ValueError
        box = [float(v) for v in parts]
    except (TypeError, ValueError):
        raise ApiError(422, "validation_error", "box must be four numbers [x1, y1, x2, y2]") from None
    if not all(-1e6 < v < 1e6 for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        raise ApiError(422, "validation_error", "box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1")
    return box


class ThresholdBody(BaseModel):
    """A subject's own threshold (null: back to the calibrated one)."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None


@router.put("/{subject_id}/threshold", summary="Give a subject their own, stricter match threshold")
def set_threshold(body: ThresholdBody, subject_id: str = SubjectId, key: ApiKey = Operator,
                  state: AppState = Depends(get_state)) -> dict[str, Any]:
    """The value must be at least the calibrated threshold (a subject's threshold only makes matching them
    stricter); ``null`` removes it. Audited as ``subject_threshold``."""
    try:
        return state.gallery.subjects.set_threshold(subject_id, body.threshold, actor=key.actor)
    except ThresholdError as exc:
        raise ApiError(422, exc.code, exc.message) from None


@router.delete("/{subject_id}", summary="Erase a subject (templates, photos, index entries) - admin only")
async def erase_subject(subject_id: str = SubjectId,
                        reason: str = Query("request", min_length=1, max_length=100,
                                            pattern=r"^[A-Za-z0-9_.:-]+$"),
                        key: ApiKey = Admin, state: AppState = Depends(get_state)) -> dict[str, Any]:
    report = await state.run(lambda: state.gallery.erase(subject_id, actor=key.actor, reason=reason))
    state.update_gallery_gauge()
    return report.to_dict()


@router.get("/{subject_id}/export", summary="Subject-access export as a zip (record, templates' metadata, "
            "stored photos, audit rows)", response_class=Response,
            responses={200: {"content": {"application/zip": {}}, "description": "zip archive"}})
async def export_subject(subject_id: str = SubjectId,
                         include_templates: bool = Query(False, description="also the embeddings (biometric)"),
                         key: ApiKey = Operator, state: AppState = Depends(get_state)) -> Response:
    """Operator or admin only: viewers never receive biometric data."""
    data = await state.run(_export_zip, state, subject_id, include_templates, key.actor)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="sightline-export-{subject_id}.zip"',
                             "Cache-Control": "no-store"})


def _export_zip(state: AppState, subject_id: str, include_templates: bool, actor: str) -> bytes:
    workdir = Path(tempfile.mkdtemp(prefix="sightline-export-"))
    try:
        bundle = state.gallery.export(subject_id, workdir, include_templates=include_templates, actor=actor)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(bundle.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{bundle.name}/{path.relative_to(bundle)}")
        return buffer.getvalue()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
