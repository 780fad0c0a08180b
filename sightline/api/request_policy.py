"""Checks every request before a route sees it: prohibited uses (query and body) and JSON nesting.

* Query parameters, urlencoded and JSON body fields go through :func:`sightline.privacy.policy.check_request_params`
  (one rule, one home): ``attributes=age`` on any route is a 403 ``prohibited_use``. Multipart fields are
  checked where they are parsed (:func:`sightline.api.uploads.read_upload`).
* JSON bodies nested deeper than :data:`MAX_JSON_DEPTH` are a 400 ``bad_json`` (a deeply nested body used
  to exhaust the parser's recursion and end as a 500).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.api.errors import error_response
from sightline.errors import ProhibitedUseError
from sightline.privacy.policy import check_request_params

MAX_JSON_DEPTH = 32
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BadBody(ValueError):
    """A body the API refuses before parsing it into a route's fields."""


def json_depth_ok(document: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``document`` (parsed JSON) nests at most ``limit`` arrays/objects deep (iterative walk)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def parse_json_body(raw: bytes) -> Any:
    """``raw`` as JSON; :class:`BadBody` if it is nested too deeply, ``ValueError`` if it is not JSON."""
    try:
        document = json.loads(raw)
    except RecursionError:
        raise BadBody(f"JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    if not json_depth_ok(document):
        raise BadBody(f"JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
    return document


def _body_params(content_type: str, body: bytes) -> list[tuple[str, Any]]:
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            document = parse_json_body(body)
        except BadBody:
            raise
        except (ValueError, UnicodeDecodeError):
            return []  # not JSON: the route answers with its own error
        return list(document.items()) if isinstance(document, dict) else []
    if content_type == "application/x-www-form-urlencoded":
        return parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    return []


class RequestPolicyMiddleware:
    """Refuses prohibited parameters (403) and over-nested JSON (400) on every route, in the one error shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            query = scope.get("query_string", b"").decode("latin-1")
            check_request_params(parse_qsl(query, keep_blank_values=True))
        except ProhibitedUseError as exc:
            await error_response(403, exc.code, exc.message)(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        checks_body = content_type.endswith("json") or content_type == "application/x-www-form-urlencoded"
        if scope["method"] not in _BODY_METHODS or not checks_body:
            await self.app(scope, receive, send)
            return
        body, closed = await _read_body(receive)
        if closed:
            return
        try:
            check_request_params(_body_params(content_type, body))
        except ProhibitedUseError as exc:
            await error_response(403, exc.code, exc.message)(scope, receive, send)
            return
        except BadBody as exc:
            await error_response(400, "bad_json", str(exc))(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read ``body`` to the app once, then defers to ``receive``."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
