"""Authentication (API key in ``Authorization: Bearer`` or ``X-API-Key``) and role checks."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from sightline.api.errors import ApiError
from sightline.api.failed_logins import failed_logins
from sightline.api.keys_store import ApiKey, Role
from sightline.api.metrics import route_template

_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token: `Authorization: Bearer sl_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key in the X-API-Key header")


def _token(bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header or None


def require(role: Role) -> Callable[..., ApiKey]:
    """Dependency: the calling key, which must hold ``role`` (or a higher one)."""

    def dependency(request: Request, bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
                   header: str | None = Security(_header)) -> ApiKey:
        token = _token(bearer, header)
        if token is None:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)")
        state = request.app.state.sightline
        key = state.keys.authenticate(token)
        if key is None:
            failed_logins(request.app.state).record(state.audit, route=_route_of(request), token=token,
                                                    client=request.client.host if request.client else "unknown")
            raise ApiError(401, "unauthorized", "unknown or revoked API key")
        request.state.key = key
        if not Role(key.role).allows(role):
            state.audit_event(key, "auth.denied", outcome="denied",
                              details={"route": _route_of(request), "needs": role.value})
            raise ApiError(403, "forbidden", f"this action needs the {role.value} role; your key is {key.role}")
        return key

    dependency.__name__ = f"require_{role.value}"
    return dependency


def _route_of(request: Request) -> str:
    return f"{request.method} {route_template(request.scope) or request.url.path}"


Viewer = Depends(require(Role.VIEWER))
Operator = Depends(require(Role.OPERATOR))
Admin = Depends(require(Role.ADMIN))
Terminal = Depends(require(Role.TERMINAL))  # checkout: terminal, operator or admin keys


def authorize_metrics(request: Request) -> None:
    """``/metrics`` needs an admin key or the dedicated scrape token (``SIGHTLINE_METRICS_TOKEN``), unless
    the operator opened it with ``SIGHTLINE_METRICS=open``."""
    state = request.app.state.sightline
    settings = state.settings
    if settings.metrics_access == "open":
        return
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else None
    token = token or request.headers.get("x-api-key") or None
    if token is None:
        raise ApiError(401, "unauthorized", "/metrics needs an admin API key or SIGHTLINE_METRICS_TOKEN "
                                            "(or SIGHTLINE_METRICS=open)")
    if settings.metrics_token and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return
    key = state.keys.authenticate(token)
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key")
    if not Role(key.role).allows(Role.ADMIN):
        raise ApiError(403, "forbidden", f"/metrics needs the admin role (or the metrics token); your key is "
                                         f"{key.role}")
