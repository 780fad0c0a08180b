"""``/api/v1/calibration`` and ``/api/v1/cameras/{name}/calibration``: open-set operating points.

GET shows the target stranger rate ("1 in 1,000 strangers") and the threshold it implies now, per
image condition and per calibrated camera. POST (admin) calibrates one camera on its own footage:
the faces seen are embedded in memory only, compared with the cohort, and discarded; the run is
audited with counts only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from sightline.api.auth import Admin, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey
from sightline.calibration.service import MAX_TARGET, MIN_TARGET, OpenSetService
from sightline.store import operating_points_repo
from sightline.video.config import NAME_PATTERN

router = APIRouter(tags=["calibration"])

CameraName = PathParam(..., min_length=1, max_length=64, pattern=NAME_PATTERN, description="camera name")


class CalibrationRequest(BaseModel):
    """A calibration run: the footage (default: the running camera's own source) and the target rate."""

    source: str | None = Field(None, max_length=2000, description="stream URL, video file, image or image folder "
                                                                    "on the server; default: the camera's source")
    target_fpir: float = Field(0.001, ge=MIN_TARGET, le=MAX_TARGET, description="strangers named, 0.001 = 1 in 1,000")
    min_faces: int = Field(20, ge=1, le=100000)
    max_frames: int = Field(600, ge=1, le=100000)
    fps: float = Field(2.0, gt=0, le=60)


def open_set(request: Request, state: AppState = Depends(get_state)) -> OpenSetService:
    """This app's open-set service (created on first use)."""
    service = getattr(request.app.state, "open_set", None)
    if service is None:
        service = OpenSetService(state.sessions, state.audit, state.engine, actor="server")
        request.app.state.open_set = service
    return service


def _camera_source(request: Request, name: str) -> str:
    cameras = getattr(request.app.state, "cameras", None)
    worker = cameras.workers.get(name) if cameras is not None else None
    if worker is None:
        raise ApiError(404, "camera_not_found", f"no running camera named {name!r}: give the footage as 'source'")
    return str(worker.config.file_path if worker.config.source_kind == "file" else worker.config.url)


@router.get("/calibration", summary="Target stranger rate and the thresholds it implies (per condition, camera)")
def calibration_status(key: ApiKey = Viewer, service: OpenSetService = Depends(open_set)) -> dict[str, Any]:
    return service.status()


@router.post("/cameras/{name}/calibration", summary="Calibrate a camera's operating point on its own footage "
                                                    "(faces in memory only; audited with counts)")
async def calibrate_camera(body: CalibrationRequest, request: Request, name: str = CameraName, key: ApiKey = Admin,
                           state: AppState = Depends(get_state),
                           service: OpenSetService = Depends(open_set)) -> dict[str, Any]:
    from sightline.calibration.camera import frames_from

    source = body.source or _camera_source(request, name)

    def work() -> dict[str, Any]:
        frames = frames_from(source, fps=body.fps, max_frames=body.max_frames)
        return service.calibrate_camera(name, frames, target_fpir=body.target_fpir, actor=key.actor,
                                        min_faces=body.min_faces)

    return await state.run(work)


@router.delete("/cameras/{name}/calibration", summary="Forget a camera's calibration (back to the shipped point)")
def forget_calibration(name: str = CameraName, key: ApiKey = Admin, state: AppState = Depends(get_state)) -> dict:
    with state.sessions.begin() as session:
        removed = operating_points_repo.delete_point(session, name)
        state.audit.append(session, actor=key.actor, action="camera_calibration_delete", outcome="ok",
                           details={"camera": name, "removed": removed})
    return {"camera": name, "removed": removed}
