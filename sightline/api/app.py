"""The FastAPI application: ``create_app(settings)`` wires routes, auth, errors, metrics and the web UI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import sightline
from sightline.api.deps import AppState
from sightline.api.errors import install_error_handlers
from sightline.api.log_redaction import install_log_redaction
from sightline.api.metrics import API_PREFIX, MetricsMiddleware, metrics_endpoint
from sightline.api.request_policy import RequestPolicyMiddleware
from sightline.api.routes import (
    audit,
    audit_page,
    calibration,
    cameras,
    checkout,
    events,
    faces,
    keys,
    plates,
    review,
    subject_photos,
    subjects,
    system,
)
from sightline.api.settings import ApiSettings
from sightline.api.uploads import BodyLimitMiddleware
from sightline.jobs.hooks import install_hooks
from sightline.jobs.server import ServerJobs, build_server_jobs

log = logging.getLogger("sightline.api")
WEB_DIR = Path(__file__).resolve().parents[1] / "web"

_CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class SecurityHeadersMiddleware:
    """Conservative headers on every response; a strict CSP on the web UI (not on /docs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        strict = not (path.startswith("/docs") or path.startswith("/api/"))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
                if strict:
                    headers.append((b"content-security-policy", _CSP.encode()))
                if path.startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """A ready-to-serve app. Opens (creating and migrating) the data folder named by ``settings``."""
    settings = settings or ApiSettings()
    install_hooks()  # before any request: erasure cleans the event history, retention covers every store
    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(state.load_models)
        await asyncio.to_thread(state.start_pool)  # --inference-workers: worker processes (or Ray actors)
        jobs = await asyncio.to_thread(_server_jobs, state)  # retention, index refresh, audit checkpoints, cameras
        app.state.jobs, app.state.cameras = jobs, jobs.cameras
        await asyncio.to_thread(jobs.start)
        try:
            yield
        finally:
            await asyncio.to_thread(jobs.stop)
            state.close()

    app = FastAPI(title="Sightline", version=sightline.__version__,
                  description="Consent-first face recognition. Authenticate with an API key: "
                              "`Authorization: Bearer sl_...`. Errors are `{\"error\": {\"code\", \"message\"}}`.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sightline = state
    app.state.metrics = state.metrics
    app.state.jobs = None  # the server's ServerJobs while the app runs
    app.state.cameras = None  # a CameraService while the app runs with settings.cameras_config
    install_error_handlers(app)
    install_log_redaction()  # no searched names in the access log

    api = APIRouter(prefix=API_PREFIX)
    for module in (faces, subject_photos, subjects, audit_page, audit, events, review, cameras, plates, calibration,
                   checkout, keys, system):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(system.probes)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    _mount_docs(app)
    if settings.serve_web:
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")

    app.add_middleware(RequestPolicyMiddleware)  # prohibited parameters and over-nested JSON, every route
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI served from a local copy (the machine may be offline; no CDN)."""
    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount("/docs/static", StaticFiles(directory=assets), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Sightline API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon.png")


def _server_jobs(state: AppState) -> ServerJobs:
    """This process's jobs, from the settings (the camera config is validated here)."""
    settings = state.settings
    return build_server_jobs(state.gallery, retention_every_s=settings.retention_every_min * 60.0,
                             index_refresh_s=settings.index_refresh_s, after_refresh=state.update_gallery_gauge,
                             cameras_config=settings.cameras_config)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (settings from ``SIGHTLINE_*`` environment variables)."""
    return create_app(ApiSettings())
