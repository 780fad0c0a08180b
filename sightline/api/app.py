"""The FastAPI application: ``create_app(settings)`` wires routes, auth, errors, metrics and the web UI."""

from __future__ import annotations

import asyncio
import contextlib
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
from sightline.api.metrics import API_PREFIX, MetricsMiddleware, metrics_endpoint
from sightline.api.routes import audit, cameras, events, faces, keys, subjects, system
from sightline.api.settings import ApiSettings
from sightline.api.uploads import BodyLimitMiddleware

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
    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(state.load_models)
        refresher = asyncio.create_task(_refresh_index(state)) if settings.index_refresh_s > 0 else None
        app.state.cameras = await asyncio.to_thread(_start_cameras, state) if settings.cameras_config else None
        try:
            yield
        finally:
            if app.state.cameras is not None:
                await asyncio.to_thread(app.state.cameras.stop)
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            state.close()

    app = FastAPI(title="Sightline", version=sightline.__version__,
                  description="Consent-first face recognition. Authenticate with an API key: "
                              "`Authorization: Bearer sl_...`. Errors are `{\"error\": {\"code\", \"message\"}}`.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sightline = state
    app.state.metrics = state.metrics
    app.state.cameras = None  # a CameraService while the app runs with settings.cameras_config
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    for module in (faces, subjects, audit, events, cameras, keys, system):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(system.probes)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    _mount_docs(app)
    if settings.serve_web:
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")

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


async def _refresh_index(state: AppState) -> None:
    """With several worker processes, pick up enrolments and erasures made by the others."""
    while True:
        await asyncio.sleep(state.settings.index_refresh_s)
        try:
            await asyncio.to_thread(state.gallery.refresh)
            state.update_gallery_gauge()
        except Exception as exc:  # keep serving; the next round retries
            log.warning("index refresh failed: %s", exc)


def _start_cameras(state: AppState):
    """The camera service for ``settings.cameras_config``, started (cameras and retention scheduler)."""
    from sightline.video.config import load_config
    from sightline.video.service import CameraService, ServiceOptions

    settings = state.settings
    config = load_config(settings.cameras_config)
    options = ServiceOptions(retention_every_s=settings.retention_every_min * 60.0)
    return CameraService(config, state.gallery, options=options).start()


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (settings from ``SIGHTLINE_*`` environment variables)."""
    return create_app(ApiSettings())
