"""``/api/v1/cameras``: status of the cameras ``sightline serve --cameras`` runs, and their live view.

The two image endpoints (``latest.jpg`` and ``mjpeg``) need the operator role, like any image of
people, and take the API key in the ``Authorization`` (or ``X-API-Key``) header only, never in the
URL. The web UI fetches them with the header and draws the frames on a canvas. Faces of people who
are not enrolled are blurred in both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse

from sightline.api.auth import Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.video.config import NAME_PATTERN
from sightline.video.service import CameraService
from sightline.video.worker import CameraWorker

router = APIRouter(prefix="/cameras", tags=["cameras"])

CameraName = PathParam(..., min_length=1, max_length=64, pattern=NAME_PATTERN, description="camera name")
BOUNDARY = "frame"
KEEPALIVE_S = 2.0  # re-send the latest frame this often when the camera has nothing new (finished, stalled)
POLL_S = 0.05


def get_cameras(request: Request) -> CameraService | None:
    """The running camera service (None when the server was started without ``--cameras``)."""
    return getattr(request.app.state, "cameras", None)


def _worker(service: CameraService | None, name: str) -> CameraWorker:
    if service is None:
        raise ApiError(404, "camera_not_found", "no cameras are running (start the server with --cameras)")
    worker = service.workers.get(name)
    if worker is None:
        raise ApiError(404, "camera_not_found", f"no running camera named {name!r}")
    return worker


@router.get("", summary="Every camera's status: state, last error, fps achieved, frames, stage times")
def list_cameras(key: ApiKey = Viewer, service: CameraService | None = Depends(get_cameras)) -> dict[str, Any]:
    if service is None:
        return {"enabled": False, "cameras": [], "events": None, "retention": None, "viewers": 0, "disabled": []}
    return {"enabled": True, **service.status()}


@router.get("/{name}/latest.jpg", summary="The camera's latest frame, annotated (unknown faces blurred)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def latest_frame(name: str = CameraName, key: ApiKey = Operator, state: AppState = Depends(get_state),
                       service: CameraService | None = Depends(get_cameras)) -> Response:
    """Operator role; each request is audited (use the MJPEG stream to watch continuously)."""
    worker = _worker(service, name)
    frame = await to_thread.run_sync(worker.latest_jpeg)
    if frame is None:
        raise ApiError(404, "no_frame", f"camera {name!r} has not produced a frame yet")
    state.audit_event(key, "cameras.frame", details={"camera": name, "frame": frame[0]})
    return Response(frame[1], media_type="image/jpeg", headers={"X-Frame-Seq": str(frame[0])})


@router.get("/{name}/mjpeg", summary="Live view as an MJPEG stream (multipart/x-mixed-replace)",
            response_class=StreamingResponse,
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}})
def live_view(name: str = CameraName, key: ApiKey = Operator, state: AppState = Depends(get_state),
              service: CameraService | None = Depends(get_cameras)) -> StreamingResponse:
    """Each part is one annotated JPEG (with ``Content-Length``), sent when the camera has a new frame
    and repeated every 2 s otherwise. The stream ends when the client disconnects or the server stops.
    Operator role; opening a stream is audited."""
    worker = _worker(service, name)
    assert service is not None
    state.audit_event(key, "cameras.live", details={"camera": name})
    return StreamingResponse(_parts(service, worker), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")


async def _parts(service: CameraService, worker: CameraWorker) -> AsyncIterator[bytes]:
    """Multipart body: frames are encoded in a worker thread, never on the event loop."""
    service.viewer_opened()
    try:
        sent_seq, sent_at = -1, 0.0
        while not service.stopping.is_set():
            now = time.monotonic()
            if worker.frame_seq != sent_seq or now - sent_at >= KEEPALIVE_S:
                frame = await to_thread.run_sync(worker.latest_jpeg)
                if frame is not None:
                    seq, jpeg = frame
                    yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                           f"X-Frame-Seq: {seq}\r\n\r\n").encode() + jpeg + b"\r\n"
                    sent_seq, sent_at = seq, now
            await asyncio.sleep(POLL_S)
    finally:
        service.viewer_closed()
