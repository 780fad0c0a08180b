"""``/api/v1/checkout``: pay with your face. A terminal opens a session (challenge + one-time nonce), films
the customer doing the challenge and posts the frames (or a clip) once; the answer is the decision.

Terminal keys (role ``terminal``) may use these routes and nothing else; operator and admin keys may too.
Every refusal is a 4xx with a readable message and a stable code.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sightline.api.auth import Terminal
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.api.uploads import image_body_schema, read_upload
from sightline.checkout import frames as checkout_frames
from sightline.checkout.errors import CheckoutError
from sightline.checkout.service import CheckoutService
from sightline.errors import SightlineError

router = APIRouter(prefix="/checkout", tags=["checkout"])
_lock = threading.Lock()


class SessionRequest(BaseModel):
    """What a terminal asks for: its own name, the amount (shown in the audit), and optionally who pays."""

    terminal: str = Field(min_length=1, max_length=100, description="the till's name (as shown in the audit log)")
    amount: float | None = Field(default=None, ge=0, le=1_000_000, description="amount to pay (audited)")
    subject: str | None = Field(default=None, max_length=200,
                                description="claimed payer (subject id or exact name): 1:1; absent: 1:N among payers")


def _service(request: Request, state: AppState) -> CheckoutService:
    with _lock:
        service = getattr(request.app.state, "checkout", None)
        if service is None:
            service = CheckoutService(state.gallery)
            request.app.state.checkout = service
    return service


def _refusal(exc: SightlineError) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    status = exc.status if isinstance(exc, CheckoutError) else 404 if exc.code == "not_found" else 422
    return ApiError(status, exc.code, exc.message)


@router.get("/config", summary="The checkout policy this server runs (challenge length, expiry, liveness)")
def config(request: Request, key: ApiKey = Terminal, state: AppState = Depends(get_state)) -> dict[str, Any]:
    service = _service(request, state)
    policy = service.policy
    return {"key": {"id": key.id, "name": key.name, "role": key.role}, "expiry_s": policy.expiry_s,
            "steps": len(policy.fixed_challenge) if policy.fixed_challenge else policy.steps,
            "fixed_challenge": bool(policy.fixed_challenge), "passive_liveness": service.passive.available,
            "max_frames": policy.max_frames}


@router.post("/sessions", status_code=201, summary="Open a checkout session: a random challenge and a one-time nonce")
async def open_session(body: SessionRequest, request: Request, key: ApiKey = Terminal,
                       state: AppState = Depends(get_state)) -> dict[str, Any]:
    """``{session, challenge: {steps, prompts, nonce}, expires_at, expires_in_s, mode}``; 429 when the terminal
    or subject is over its rate, 423 while locked out after repeated failures, 403 for a subject who is not
    enrolled for paying."""
    service = await state.run(_service, request, state)  # the first call loads the liveness models
    try:
        row, challenge = await state.run(lambda: service.open(terminal=body.terminal, key_id=key.id,
                                                              actor=key.actor, amount=body.amount,
                                                              subject=body.subject))
    except SightlineError as exc:
        raise _refusal(exc) from None
    return {"session": row.id, "challenge": challenge.to_dict(), "expires_at": row.expires_at.isoformat(),
            "expires_in_s": service.policy.expiry_s, "mode": "1:1" if row.claimed_subject else "1:N",
            "terminal": row.terminal}


@router.get("/sessions/{session_id}", summary="A session's state (for the terminal that opened it)")
def get_session(session_id: str, request: Request, key: ApiKey = Terminal,
                state: AppState = Depends(get_state)) -> dict[str, Any]:
    try:
        row = _service(request, state).get(session_id)
    except SightlineError as exc:
        raise _refusal(exc) from None
    if row.key_id != key.id:
        raise ApiError(403, "wrong_terminal", "this session was opened by another terminal key")
    return row.to_dict()


@router.post("/sessions/{session_id}/frames", summary="The attempt: frames with timestamps, or a short clip",
             openapi_extra=image_body_schema(
                 {"frame": "frames in capture order (up to 16)", "clip": "or one short video clip (mp4, webm)"},
                 {"nonce": {"type": "string", "description": "the session's nonce"},
                  "timestamps": {"type": "string",
                                 "description": "capture time of each frame, epoch ms, comma-separated"},
                  "started_at": {"type": "number", "description": "clip: epoch ms of its first frame"}},
                 required=("nonce",)))
async def post_frames(session_id: str, request: Request, key: ApiKey = Terminal,
                      state: AppState = Depends(get_state)) -> dict[str, Any]:
    """The decision ``{approved, subject, similarity, liveness, reasons, ...}``. One attempt per session:
    posting again is 409 ``nonce_used``; after expiry 410 ``session_expired``; no face, two faces, the face
    leaving mid-challenge or frames timed outside the session are 422 with the reason."""
    service = await state.run(_service, request, state)
    upload = await read_upload(request, ("frame", "clip"))
    try:
        row = await state.run(lambda: service.claim(session_id, key_id=key.id, nonce=upload.text("nonce"),
                                                    actor=key.actor))
        try:
            frames = await state.run(_frames, upload, service.policy.max_frames)
        except SightlineError as exc:
            await state.run(service.refuse, row, exc, key.actor)
            raise
        decision = await state.run(lambda: service.decide(row, frames, actor=key.actor))
    except SightlineError as exc:
        raise _refusal(exc) from None
    return decision.to_dict()


def _frames(upload, max_frames: int) -> list[checkout_frames.TimedFrame]:
    clip = upload.one("clip")
    images = upload.files.get("frame") or []
    if clip and images:
        raise CheckoutError("send frames or a clip, not both", code="bad_request")
    if clip:
        started = upload.number("started_at", None, low=0, high=1e14)
        if started is None:
            raise CheckoutError("a clip needs 'started_at': epoch milliseconds of its first frame",
                                code="timestamps_required")
        return checkout_frames.from_clip(clip[1], started / 1000.0, max_frames)
    if not images:
        raise CheckoutError("send the challenge's frames ('frame', with 'timestamps') or a 'clip'", code="no_frames")
    stamps = checkout_frames.parse_timestamps(upload.fields.get("timestamps"), len(images))
    return checkout_frames.from_images(images, stamps)
