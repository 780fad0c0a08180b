"""One JSON error shape for every failure: ``{"error": {"code": ..., "message": ...}}``.

Codes are the stable ``SightlineError.code`` values plus a few HTTP-level ones
(``unauthorized``, ``forbidden``, ``validation_error``, ``payload_too_large``...).
Anything unexpected becomes ``internal_error`` (and is logged), but the handlers
below exist so that bad input never gets that far.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sightline.errors import (
    ConfigError,
    ImageError,
    KeyMaterialError,
    LegalBasisError,
    ModelError,
    MultipleFacesError,
    NoFaceError,
    NotFoundError,
    ProhibitedUseError,
    QualityError,
    SightlineError,
    StoreError,
)

log = logging.getLogger("sightline.api")


class ApiError(SightlineError):
    """An HTTP-level error raised by the API itself, with its status code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


_STATUS_BY_TYPE: list[tuple[type[SightlineError], int]] = [
    (ImageError, 400),
    (NoFaceError, 422),
    (MultipleFacesError, 422),
    (QualityError, 422),
    (LegalBasisError, 422),
    (NotFoundError, 404),
    (ProhibitedUseError, 403),
    (ConfigError, 400),
    (ModelError, 503),
    (KeyMaterialError, 503),
    (StoreError, 503),
]
_STATUS_BY_CODE = {"too_large": 413, "embedding_mismatch": 409, "not_found": 404, "server_busy": 503}
RETRY_AFTER_S = "5"  # seconds a busy server asks clients to wait (503 server_busy)
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests"}


def status_for(exc: SightlineError) -> int:
    """HTTP status for an error: explicit for ApiError, else by code, then by type, else 400."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, ImageError) and exc.code == "not_found":
        return 400  # "no such file" cannot come from an upload; treat as bad input
    if exc.code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[exc.code]
    for kind, status in _STATUS_BY_TYPE:
        if isinstance(exc, kind):
            return status
    return 400


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error body shape."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _sightline_error(_request: Request, exc: SightlineError) -> JSONResponse:
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503 and exc.code == "server_busy":
        headers = {"Retry-After": RETRY_AFTER_S}
    return error_response(status, exc.code, exc.message, headers)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(422, "validation_error", _describe_validation(exc))


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error: %s", exc)
    return error_response(500, "internal_error", "internal server error (logged)")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one JSON shape."""
    app.add_exception_handler(SightlineError, _sightline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
