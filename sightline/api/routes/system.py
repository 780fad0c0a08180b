"""Liveness, readiness, models and (admin) configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from sightline.api.auth import Admin, Operator, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.keys_store import ApiKey
from sightline.errors import NotFoundError
from sightline.models.registry import REGISTRY

probes = APIRouter(tags=["system"])
router = APIRouter(tags=["system"])


@probes.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@probes.get("/ready", summary="Readiness: models loaded and database reachable (503 until then)")
def ready(state: AppState = Depends(get_state)) -> JSONResponse:
    checks = {"models_loaded": state.models_loaded, "database": state.db_ok()}
    ok = all(checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "backend": state.engine.backend, **checks},
                        status_code=200 if ok else 503)


@router.get("/models", summary="Registered models, where each was found, and the active face backend")
def list_models(key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    store = state.engine.store
    rows = []
    for spec in REGISTRY.values():
        path = store.locate(spec.name)
        rows.append({**spec.to_dict(), "found": path is not None})
    state.audit_event(key, "models.list")
    return {"backend": state.engine.backend, "threshold": state.engine.threshold, "models": rows}


@router.post("/models/verify", summary="Check model files against their registered sha256")
async def verify_models(names: list[str] | None = Query(None, max_length=20), key: ApiKey = Operator,
                        state: AppState = Depends(get_state)) -> dict[str, Any]:
    store = state.engine.store
    wanted = [n for n in (names or []) if n]
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        raise NotFoundError(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")

    def check() -> tuple[list[dict[str, object]], int]:
        statuses = [store.status(n) for n in wanted] if wanted else store.status_all()
        bad = sum(1 for s in statuses if not s.ok and (wanted or s.path is not None))
        rows = [{"name": s.name, "found": s.path is not None, "ok": s.ok, "problem": s.problem} for s in statuses]
        return rows, bad

    rows, bad = await state.run(check)
    state.audit_event(key, "models.verify", outcome="ok" if not bad else "bad", details={"checked": len(rows)})
    return {"models": rows, "ok": not bad}


@router.get("/config", summary="Effective server settings and gallery statistics (admin)")
def config(key: ApiKey = Admin, state: AppState = Depends(get_state)) -> dict[str, Any]:
    state.audit_event(key, "config.show")
    return {"settings": state.settings.public_dict(), "gallery": state.gallery.stats()}
