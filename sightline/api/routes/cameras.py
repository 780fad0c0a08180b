"""``/api/v1/cameras``: the server's cameras (``serve --cameras`` YAML and those added here), their status and
live view, and adding, changing, disabling or removing a camera without a restart (admin, audited).

A camera's body is the camera part of cameras.yaml (``url``, ``enabled``, ``fps``, ``classes``, ``zones``,
``face_recognition``...), validated by the same code as ``sightline config validate``: a bad key answers 422
``bad_config`` with ``problems`` (``[{"path": "cameras.gate.fps", "message": "must be > 0"}]``). Source URLs
are never sent back with their password: it shows as ``***``, and a change that sends ``***`` back keeps it.

The two image endpoints (``latest.jpg`` and ``mjpeg``) need the operator role, like any image of
people, and take the API key in the ``Authorization`` (or ``X-API-Key``) header only, never in the
URL. The web UI fetches them with the header and draws the frames on a canvas. Faces of people who
are not enrolled are blurred in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Body, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse

from sightline.api.auth import Admin, Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.errors import ConfigError
from sightline.jobs.cameras import CameraManager, describe
from sightline.video.config import NAME_PATTERN, ConfigValidationError, SightlineConfig
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


def get_manager(request: Request) -> CameraManager:
    """The server's camera manager (YAML and UI cameras); 409 when this app runs no jobs (not started by
    ``sightline serve`` or still starting)."""
    jobs = getattr(request.app.state, "jobs", None)
    manager = getattr(jobs, "manager", None)
    if manager is None:
        raise ApiError(409, "cameras_not_running", "the camera service is not running in this process")
    return manager


def _worker(service: CameraService | None, name: str) -> CameraWorker:
    if service is None:
        raise ApiError(404, "camera_not_found", "no cameras are running")
    worker = service.workers.get(name)
    if worker is None:
        raise ApiError(404, "camera_not_found", f"no running camera named {name!r}")
    return worker


@router.get("", summary="Every camera's status: state, last error, fps achieved (with a warning below target), "
                        "frames, stage times, and the configured cameras (passwords masked)")
def list_cameras(request: Request, key: ApiKey = Viewer) -> dict[str, Any]:
    jobs = getattr(request.app.state, "jobs", None)
    manager: CameraManager | None = getattr(jobs, "manager", None)
    if manager is None:
        return {"enabled": False, "cameras": [], "configured": [], "events": None, "retention": None, "viewers": 0,
                "disabled": [], "shadowed": [], "editable": key.role == "admin"}
    status = manager.status()
    return {"enabled": bool(status["configured"]), **status, "editable": key.role == "admin"}


CameraBody = Body(..., examples=[{"url": "rtsp://user:secret@10.0.0.5/stream", "fps": 5, "classes": ["person"],
                                  "zones": {"door": [[0.1, 0.2], [0.5, 0.2], [0.5, 0.9], [0.1, 0.9]]},
                                  "face_recognition": {"enabled": True}}])


_STATUS = {"camera_not_found": 404, "camera_exists": 409, "camera_read_only": 409}


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    """Manager errors as HTTP answers: unknown camera 404, name taken or YAML camera 409."""
    try:
        yield
    except ConfigValidationError:
        raise
    except ConfigError as exc:
        if exc.code in _STATUS:
            raise ApiError(_STATUS[exc.code], exc.code, exc.message) from None
        raise


def _invalid(exc: ConfigValidationError) -> JSONResponse:
    return JSONResponse({"error": {"code": "bad_config", "message": str(exc),
                                   "problems": exc.to_dict()["problems"]}}, status_code=422)


def _changed(manager: CameraManager, name: str) -> dict[str, Any]:
    """The camera as saved, with `config validate`'s warnings about it (valid, but probably not meant)."""
    camera = manager.configured()[name]
    warnings = SightlineConfig.model_construct(cameras={name: camera.config}).warnings()
    return {**describe(camera, running=name in manager.service.workers), "warnings": warnings}


@router.post("", status_code=201, summary="Add a camera (admin): validated like `config validate`, started at once")
def create_camera(body: dict[str, Any] = CameraBody, key: ApiKey = Admin,
                  manager: CameraManager = Depends(get_manager)) -> Any:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(422, "bad_config", "the camera needs a name (1-64 letters, digits, '_' or '-')")
    settings = {k: v for k, v in body.items() if k != "name"}
    try:
        with _answers():
            manager.create(name, settings, actor=key.actor)
    except ConfigValidationError as exc:
        return _invalid(exc)
    return JSONResponse(_changed(manager, name), status_code=201)


@router.get("/{name}/config", summary="A camera's settings (admin; the source URL's password masked)")
def camera_config(name: str = CameraName, key: ApiKey = Admin,
                  manager: CameraManager = Depends(get_manager)) -> dict[str, Any]:
    camera = manager.configured().get(name)
    if camera is None:
        raise ApiError(404, "camera_not_found", f"no camera named {name!r}")
    return describe(camera, running=name in manager.service.workers)


@router.put("/{name}", summary="Change a UI camera (admin): keys sent replace the stored ones, the worker restarts "
                               "with the new settings; `enabled: false` disables it")
def replace_camera(name: str = CameraName, body: dict[str, Any] = CameraBody, key: ApiKey = Admin,
                   manager: CameraManager = Depends(get_manager)) -> Any:
    settings = {k: v for k, v in body.items() if k != "name"}
    try:
        with _answers():
            manager.replace(name, settings, actor=key.actor)
    except ConfigValidationError as exc:
        return _invalid(exc)
    return _changed(manager, name)


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Remove a UI camera (admin): it stops; its events stay under the usual retention")
def delete_camera(name: str = CameraName, key: ApiKey = Admin,
                  manager: CameraManager = Depends(get_manager)) -> Response:
    with _answers():
        manager.delete(name, actor=key.actor)
    return Response(status_code=204)


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
    """Multipart body: frames are encoded in a worker thread, never on the event loop. The stream ends with the
    server, or when its camera is removed, disabled or restarted (the UI then shows "Live view ended")."""
    service.viewer_opened()
    try:
        sent_seq, sent_at = -1, 0.0
        # until the server stops, or the camera is removed, disabled or restarted with new settings
        while not service.stopping.is_set() and service.workers.get(worker.name) is worker:
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
