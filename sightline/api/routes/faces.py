"""``/api/v1/faces``: detect, verify (1:1) and identify (1:N against the gallery)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request

from sightline.api import inference
from sightline.api.auth import Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey, Role
from sightline.api.uploads import Upload, image_body_schema, read_upload
from sightline.engine import VerifyResult, cosine_similarity
from sightline.errors import SightlineError
from sightline.gallery.matching import MatchingService
from sightline.gallery.records import Identification
from sightline.gallery.thresholds import ThresholdError
from sightline.vision.faces.types import Face

router = APIRouter(prefix="/faces", tags=["faces"])

_THRESHOLD = {"type": "number", "minimum": -1, "maximum": 1,
              "description": "raise the calibrated threshold (lowering it needs an admin key and stops at a floor)"}
_EXPLAIN = {"type": "boolean", "description": "admin only: also list near-miss candidates (audited)"}
_FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
                "off": False, "": False}


def _threshold(upload: Upload, key: ApiKey, state: AppState) -> float:
    """The threshold this request will use: raising is free, lowering needs an admin key and has a floor."""
    requested = upload.number("threshold", None, low=-1.0, high=1.0)
    try:
        return state.gallery.matching.threshold_for(requested, allow_lower=_is_admin(key))
    except ThresholdError as exc:
        raise ApiError(403 if exc.code == "threshold_needs_admin" else 422, exc.code, exc.message) from None


def _is_admin(key: ApiKey) -> bool:
    return Role(key.role).allows(Role.ADMIN)


def _explain(upload: Upload, key: ApiKey) -> bool:
    flag = upload.fields.get("explain", False)
    if isinstance(flag, str):
        flag = _FLAG_VALUES.get(flag.lower())
    if not isinstance(flag, bool):
        raise ApiError(422, "validation_error", "field 'explain' must be true or false")
    if flag and not _is_admin(key):
        raise ApiError(403, "forbidden", "near-miss candidates (explain) are for admin keys only")
    return flag


@router.post("/detect", summary="Detect faces (box, landmarks, score, quality)",
             openapi_extra=image_body_schema({"image": "one or more images"}, required=("image",)))
async def detect(request: Request, key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Same JSON as ``sightline faces detect --json``: ``{"backend", "results": [{"image", "faces", "error"}]}``.

    Several images may be sent at once; a bad one gets an ``error`` entry while
    the others are still processed. If every image is bad the request fails with
    that image's error (4xx).
    """
    upload = await read_upload(request, ("image",))
    images = upload.files.get("image") or []
    if not images:
        raise ApiError(422, "validation_error", "image field 'image' is required")
    results, first_error = [], None
    for name, data in images:
        try:
            if state.pool is None:
                faces = await state.run(_detect_one, state, data)
            else:
                faces = await inference.pooled_faces(state, await state.run(inference.decode, state, data), "detect")
        except SightlineError as exc:
            first_error = first_error or exc
            results.append({"image": name, "faces": [], "error": exc.to_dict()})
            continue
        results.append({"image": name, "faces": [f.to_dict() for f in faces], "error": None})
    faces_found = sum(len(r["faces"]) for r in results)
    failed = sum(1 for r in results if r["error"])
    state.audit_event(key, "faces.detect", outcome="ok" if failed < len(results) else "error",
                      details={"images": len(results), "failed": failed, "faces": faces_found})
    if first_error is not None and failed == len(results):
        raise first_error
    return {"backend": state.engine.backend, "results": results}


def _detect_one(state: AppState, data: bytes):
    return inference.detect(state, inference.decode(state, data))


@router.post("/verify", summary="Are two faces the same person? (two images, or an image and a subject)",
             openapi_extra=image_body_schema(
                 {"image_a": "first image", "image_b": "second image",
                  "image": "probe image (with subject_id)"},
                 {"subject_id": {"type": "string", "maxLength": 64, "description": "compare with this subject"},
                  "threshold": _THRESHOLD}))
async def verify(request: Request, key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Two images: same JSON as ``sightline faces verify --json``. An image and ``subject_id``: the
    subject's best template counts (operator role, since it reads the gallery), and the answer has
    ``subject_id``, ``name``, ``score``, ``same_person``, ``threshold``, ``templates`` and ``box``."""
    upload = await read_upload(request, ("image_a", "image_b", "image"))
    threshold = _threshold(upload, key, state)
    subject_id = upload.text("subject_id")
    if subject_id:
        if not Role(key.role).allows(Role.OPERATOR):
            raise ApiError(403, "forbidden", "verifying against a subject needs the operator role")
        name, data = upload.one("image") or upload.require("image_a")
        return await state.run(_verify_subject, state, data, name, subject_id, threshold, key)
    name_a, data_a = upload.require("image_a")
    name_b, data_b = upload.require("image_b")
    if state.pool is None:
        result = await state.run(_verify_pair, state, data_a, name_a, data_b, name_b, threshold)
    else:
        result = await _verify_pair_pooled(state, data_a, name_a, data_b, name_b, threshold)
    state.audit_event(key, "faces.verify", details={"same_person": result.same_person, "threshold": threshold})
    return result.to_dict()


def _verify_pair(state: AppState, data_a: bytes, name_a: str, data_b: bytes, name_b: str,
                 threshold: float) -> VerifyResult:
    face_a = inference.main_face(state, inference.decode(state, data_a), name_a)
    face_b = inference.main_face(state, inference.decode(state, data_b), name_b)
    similarity = cosine_similarity(face_a.embedding, face_b.embedding)
    return VerifyResult(similarity, similarity >= threshold, threshold, state.engine.backend, face_a, face_b)


async def _verify_pair_pooled(state: AppState, data_a: bytes, name_a: str, data_b: bytes, name_b: str,
                              threshold: float) -> VerifyResult:
    """:func:`_verify_pair` with detection and embedding in the inference pool (same order of checks)."""
    face_a = (await inference.pooled_faces(state, await state.run(inference.decode, state, data_a), "main",
                                           name_a))[0]
    face_b = (await inference.pooled_faces(state, await state.run(inference.decode, state, data_b), "main",
                                           name_b))[0]
    similarity = cosine_similarity(face_a.embedding, face_b.embedding)
    return VerifyResult(similarity, similarity >= threshold, threshold, state.engine.backend, face_a, face_b)


def _verify_subject(state: AppState, data: bytes, name: str, subject_id: str, threshold: float,
                    key: ApiKey) -> dict[str, Any]:
    pixels = inference.decode(state, data)
    with state.metrics.time_inference(state.engine.spec.embedder, "verify_subject"):
        return state.gallery.verify(pixels, subject_id, threshold=threshold, actor=key.actor,
                                    allow_lower=_is_admin(key)).to_dict()


@router.post("/identify", summary="Who is in this photo? (1:N against the enrolled gallery)",
             openapi_extra=image_body_schema(
                 {"image": "probe image"},
                 {"k": {"type": "integer", "minimum": 1, "maximum": 20, "description": "candidates per face"},
                  "threshold": _THRESHOLD, "explain": _EXPLAIN}, required=("image",)))
async def identify(request: Request, key: ApiKey = Operator, state: AppState = Depends(get_state)) -> dict[str, Any]:
    """Same JSON as ``sightline identify --json``: per face its box, decision (subject id or ``unknown``),
    name and score. Only subjects that matched are listed under ``candidates``; an ``unknown`` face names
    nobody. ``explain=true`` (admin keys only, audited) adds the near-miss candidates with their scores."""
    upload = await read_upload(request, ("image",))
    name, data = upload.require("image")
    k = upload.number("k", 3, low=1, high=20, integer=True)
    threshold = _threshold(upload, key, state)
    explain = _explain(upload, key)
    requested = threshold if upload.number("threshold", None, low=-1.0, high=1.0) is not None else None
    if state.pool is None:
        found = await state.run(_identify, state, data, k, requested, key, explain)  # None: the open-set point
    else:
        found = await _identify_pooled(state, data, k, requested, key, explain)
    if requested is None:
        threshold = max((r.threshold for r in found), default=threshold)
    return {"backend": state.engine.backend, "threshold": threshold,
            "results": [{"image": name, "faces": [r.to_dict(explain=explain) for r in found], "error": None}]}


def _identify(state: AppState, data: bytes, k: int, threshold: float, key: ApiKey, explain: bool):
    pixels = inference.decode(state, data)
    with state.metrics.time_inference(state.engine.spec.embedder, "identify"):
        return state.gallery.identify(pixels, k, threshold=threshold, actor=key.actor,
                                      allow_lower=_is_admin(key), explain=explain)


async def _identify_pooled(state: AppState, data: bytes, k: int, threshold: float | None, key: ApiKey,
                           explain: bool) -> list[Identification]:
    """:func:`_identify` with detection and embedding in the inference pool: decode, search, decision and audit
    stay here (the same ``MatchingService.identify_faces`` as the in-process path)."""
    matching, allow_lower = state.gallery.matching, _is_admin(key)
    matching.check_identify(k, threshold, allow_lower=allow_lower)
    pixels = await state.run(inference.decode, state, data)
    with state.metrics.time_inference(state.engine.spec.embedder, "identify"):
        faces = await inference.pooled_faces(state, pixels, "embed")
        return await state.run(_decide, matching, pixels, faces, k, threshold, key.actor, allow_lower, explain)


def _decide(matching: MatchingService, pixels: np.ndarray, faces: list[Face], k: int, threshold: float | None,
            actor: str, allow_lower: bool, explain: bool) -> list[Identification]:
    return matching.identify_faces(pixels, faces, k, threshold=threshold, actor=actor, allow_lower=allow_lower,
                                   explain=explain)
