"""Enrolment helpers for the web UI: a photo checked against the enrolment quality gate before it is sent,
and the thumbnail of a subject's stored enrolment photo (operator; audited)."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from PIL import Image

from sightline.api import inference
from sightline.api.auth import Operator
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.api.uploads import image_body_schema, read_upload
from sightline.errors import QualityError
from sightline.store.photos_repo import template_photo

router = APIRouter(tags=["subjects"])
THUMB_PX = 192


@router.post("/enrolment/check", summary="Would this photo pass the enrolment quality gate? (nothing is stored)",
             openapi_extra=image_body_schema({"image": "a candidate enrolment photo"}, {}, required=("image",)))
async def check_photo(request: Request, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """``{"ok": true, "face_px": ...}``, or ``{"ok": false, "reason": code, "message": ...}`` with the code the
    enrolment itself would give (``no_face``, ``several_faces``, ``too_small``, ``too_blurred``, ``bad_pose``).
    Only detection runs: no embedding is computed, nothing is kept."""
    upload = await read_upload(request, ("image",))
    _, data = upload.require("image")

    def check() -> dict[str, Any]:
        faces = inference.detect(state, inference.decode(state, data))
        try:
            face = state.gallery.enrolment.gate.check(faces)
        except QualityError as exc:
            return {"ok": False, "reason": exc.code, "message": exc.message, "faces": len(faces)}
        return {"ok": True, "faces": len(faces),
                "face_px": round(face.quality.face_pixels) if face.quality else None}

    result = await state.run(check)
    state.audit_event(key, "enrolment.check", outcome="ok" if result["ok"] else "rejected",
                      details={"reason": result.get("reason")})
    return result


@router.get("/subjects/{subject_id}/faces/{template_id}/photo", response_class=Response,
            summary="A small JPEG of the stored enrolment photo behind one template (operator; audited)",
            responses={200: {"content": {"image/jpeg": {}}}})
async def template_photo_jpeg(subject_id: str = PathParam(..., min_length=1, max_length=64),
                         template_id: int = PathParam(..., ge=1, le=2**62), key: ApiKey = Operator,
                         state: AppState = Depends(get_state)) -> Response:
    def read() -> bytes:
        with state.sessions() as session:
            found, image = template_photo(session, subject_id, template_id)
            if not found:
                raise ApiError(404, "not_found", f"subject {subject_id!r} has no template {template_id}")
            if image is None:
                raise ApiError(404, "no_photo", "no photo was stored with this template")
            data = state.gallery.ctx.decrypt_image(image)
        with Image.open(io.BytesIO(data)) as photo:
            photo.thumbnail((THUMB_PX, THUMB_PX))
            out = io.BytesIO()
            photo.convert("RGB").save(out, "JPEG", quality=85)
        return out.getvalue()

    data = await state.run(read)
    state.audit_event(key, "subjects.photo", subject_id=subject_id, details={"template_id": template_id})
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
