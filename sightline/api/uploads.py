"""Request bodies: a size limit enforced while the body streams in, and image uploads.

Image endpoints take either ``multipart/form-data`` (file fields) or
``application/json`` with the image as base64 (a ``data:`` URL prefix is
allowed). Both arrive here as :class:`Upload` so routes do not care which.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.api.errors import ApiError
from sightline.api.request_policy import BadBody, parse_json_body, replay_body
from sightline.privacy.policy import check_request_params

MAX_FILES = 16
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, counting bytes as they arrive.

    A declared ``Content-Length`` over the limit is refused before reading; a
    chunked or lying body is refused as soon as the running count passes the
    limit. Accepted bodies (at most ``max_bytes``) are replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        from sightline.api.errors import error_response

        response = error_response(413, "payload_too_large",
                                  f"request body is over the limit of {self.max_bytes} bytes "
                                  "(SIGHTLINE_MAX_UPLOAD_BYTES)", {"Connection": "close"})
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


@dataclass
class Upload:
    """Files (name, bytes) by field, and the other fields, from either body encoding."""

    files: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)

    def one(self, name: str) -> tuple[str, bytes] | None:
        """The single file in field ``name`` (None if absent); more than one is an error."""
        items = self.files.get(name, [])
        if len(items) > 1:
            raise ApiError(422, "validation_error", f"field {name!r} takes one image, got {len(items)}")
        return items[0] if items else None

    def require(self, name: str) -> tuple[str, bytes]:
        """Like :meth:`one` but the field must be present."""
        item = self.one(name)
        if item is None:
            raise ApiError(422, "validation_error", f"image field {name!r} is required")
        return item

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.fields.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError(422, "validation_error", f"field {name!r} must be a string")
        return value

    def number(self, name: str, default: float | None, *, low: float, high: float, integer: bool = False) -> Any:
        """A numeric field (form strings are parsed) within [low, high]."""
        value = self.fields.get(name)
        if value is None or value == "":
            return default
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(value) if integer else float(value)
        except (TypeError, ValueError):
            kind = "an integer" if integer else "a number"
            raise ApiError(422, "validation_error", f"field {name!r} must be {kind}") from None
        if not low <= number <= high:
            raise ApiError(422, "validation_error", f"field {name!r} must be between {low} and {high}")
        return number


async def read_upload(request: Request, file_fields: tuple[str, ...]) -> Upload:
    """Parse a multipart or JSON-base64 body; ``file_fields`` names the fields that hold images.

    The other fields pass the prohibited-use policy (``attributes=age`` is a 403 ``prohibited_use``).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        upload = await _from_multipart(request, file_fields)
    elif content_type == "application/json" or content_type.endswith("+json"):
        upload = await _from_json(request, file_fields)
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send multipart/form-data (file fields) or application/json (base64 images)")
    check_request_params(upload.fields.items())
    return upload


async def _from_multipart(request: Request, file_fields: tuple[str, ...]) -> Upload:
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=64)
    except MultiPartException as exc:
        raise ApiError(400, "bad_multipart", f"malformed multipart body: {exc.message}") from None
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_multipart", f"malformed multipart body: {exc}") from None
    upload = Upload()
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key not in file_fields:
                    raise ApiError(422, "validation_error", f"unexpected file field {key!r}")
                upload.files.setdefault(key, []).append((value.filename or key, await value.read()))
            elif key in file_fields:
                raise ApiError(422, "validation_error", f"field {key!r} must be a file upload")
            else:
                upload.fields[key] = value
    finally:
        await form.close()
    return upload


async def _from_json(request: Request, file_fields: tuple[str, ...]) -> Upload:
    raw = await request.body()
    try:
        payload = parse_json_body(raw)
    except BadBody as exc:
        raise ApiError(400, "bad_json", str(exc)) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "JSON body must be an object")
    upload = Upload()
    for key, value in payload.items():
        if key in file_fields:
            values = value if isinstance(value, list) else [value]
            if len(values) > MAX_FILES:
                raise ApiError(422, "validation_error", f"at most {MAX_FILES} images per request")
            upload.files[key] = [_decode_b64(key, item, index) for index, item in enumerate(values)]
        else:
            upload.fields[key] = value
    return upload


def _decode_b64(key: str, item: Any, index: int) -> tuple[str, bytes]:
    name = f"{key}[{index}]" if index else key
    if isinstance(item, dict):  # {"name": "a.jpg", "data": "<base64>"}
        name = item.get("name") if isinstance(item.get("name"), str) else name
        item = item.get("data")
    if not isinstance(item, str):
        raise ApiError(422, "validation_error", f"field {key!r} must be a base64 string")
    text = item.split(",", 1)[1] if item.startswith("data:") and "," in item else item
    try:
        return name, base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_base64", f"field {key!r} is not valid base64") from None


def image_body_schema(file_fields: dict[str, str], extra: dict[str, dict] | None = None,
                      required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` describing both encodings of an image endpoint's body."""
    extra = extra or {}
    multipart = {"type": "object",
                 "properties": {**{k: {"type": "string", "format": "binary", "description": d}
                                   for k, d in file_fields.items()}, **extra},
                 "required": list(required)}
    as_json = {"type": "object",
               "properties": {**{k: {"type": "string", "format": "byte", "description": d + " (base64)"}
                                 for k, d in file_fields.items()}, **extra},
               "required": list(required)}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": multipart},
        "application/json": {"schema": as_json},
    }}}
