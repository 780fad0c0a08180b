"""/api/v1/faces through the real app on real photos: shapes, both encodings, bad input, limits, metrics."""

from __future__ import annotations

import io
import json
import struct
import zlib

from api_support import *  # noqa: F403
from api_support import EXAMPLES, UPLOAD_LIMIT, auth, b64, image_bytes, no_face_jpeg
from PIL import Image


def test_detect_multipart_matches_cli_shape(client, tokens):
    response = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                           files=[("image", ("obama.jpg", image_bytes("obama.jpg"), "image/jpeg")),
                                  ("image", ("two_people.jpg", image_bytes("two_people.jpg"), "image/jpeg"))])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"backend", "results"}
    assert [r["image"] for r in body["results"]] == ["obama.jpg", "two_people.jpg"]
    assert [len(r["faces"]) for r in body["results"]] == [1, 2]
    face = body["results"][0]["faces"][0]
    assert set(face) == {"box", "score", "landmarks", "quality"}
    assert len(face["landmarks"]) == 5 and face["score"] > 0.5
    assert "embedding" not in face


def test_detect_json_base64_equals_multipart(client, tokens):
    data = image_bytes("obama.jpg")
    as_json = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                          json={"image": "data:image/jpeg;base64," + b64(data)}).json()
    as_form = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                          files={"image": ("obama.jpg", data, "image/jpeg")}).json()
    assert as_json["results"][0]["faces"] == as_form["results"][0]["faces"]


def test_detect_group_photo_finds_six(client, tokens):
    response = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                           files={"image": ("g.jpg", (EXAMPLES.parent / "group_six_people.jpg").read_bytes())})
    assert len(response.json()["results"][0]["faces"]) == 6


def test_verify_two_images(client, tokens):
    same = client.post("/api/v1/faces/verify", headers=auth(tokens["viewer"]),
                       files={"image_a": ("a.jpg", image_bytes("obama.jpg")),
                              "image_b": ("b.jpg", image_bytes("obama2.jpg"))})
    assert same.status_code == 200, same.text
    assert same.json()["same_person"] is True
    assert set(same.json()) == {"similarity", "same_person", "threshold", "backend", "face_a", "face_b"}
    other = client.post("/api/v1/faces/verify", headers=auth(tokens["viewer"]),
                        json={"image_a": b64(image_bytes("obama.jpg")), "image_b": b64(image_bytes("biden.jpg"))})
    assert other.status_code == 200
    assert other.json()["same_person"] is False
    assert other.json()["similarity"] < same.json()["similarity"]


def test_verify_without_face_is_422_no_face(client, tokens):
    response = client.post("/api/v1/faces/verify", headers=auth(tokens["viewer"]),
                           files={"image_a": ("a.jpg", image_bytes("obama.jpg")),
                                  "image_b": ("bg.jpg", no_face_jpeg())})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_face"


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims width x height pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _error(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def test_bad_images_are_4xx_with_stable_codes(client, tokens):
    headers = auth(tokens["viewer"])
    jpeg = image_bytes("obama.jpg")
    cases = {
        "not_an_image": b"just some text, not a picture",
        "truncated_image": jpeg[: len(jpeg) // 3],
        "too_large": _png_header_only(40_000, 40_000),
        "empty_image": b"",
    }
    for code, data in cases.items():
        response = client.post("/api/v1/faces/detect", headers=headers, files={"image": ("x", data)})
        assert 400 <= response.status_code < 500, (code, response.status_code)
        assert _error(response) == code
    assert client.post("/api/v1/faces/detect", headers=headers, files={"image": ("x", cases["too_large"])}
                       ).status_code == 413


def test_oversize_upload_is_413_declared_and_streamed(client, tokens):
    big = b"\xff\xd8\xff" + bytes(UPLOAD_LIMIT + 10)
    declared = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]), files={"image": ("big.jpg", big)})
    assert declared.status_code == 413 and _error(declared) == "payload_too_large"

    def chunks():  # no Content-Length: the limit must be enforced while reading
        for _ in range(UPLOAD_LIMIT // 65536 + 2):
            yield bytes(65536)
    streamed = client.post("/api/v1/faces/detect", content=chunks(),
                           headers={**auth(tokens["viewer"]), "Content-Type": "application/json"})
    assert streamed.status_code == 413 and _error(streamed) == "payload_too_large"


def test_request_shape_errors(client, tokens):
    headers = auth(tokens["viewer"])
    cases = [
        (dict(content=b"abc", headers={**headers, "Content-Type": "text/plain"}), 415, "unsupported_media_type"),
        (dict(json={"image": "!!!not base64!!!"}, headers=headers), 400, "bad_base64"),
        (dict(json={"images": []}, headers=headers), 422, "validation_error"),
        (dict(json=[1, 2], headers=headers), 422, "validation_error"),
        (dict(content=b"{broken", headers={**headers, "Content-Type": "application/json"}), 400, "bad_json"),
        (dict(data={"image": "a string, not a file"}, files={"other": ("x", b"1")}, headers=headers), 422,
         "validation_error"),
    ]
    for kwargs, status, code in cases:
        response = client.post("/api/v1/faces/detect", **kwargs)
        assert (response.status_code, _error(response)) == (status, code), kwargs


def test_auth_required_and_checked(client, tokens):
    files = {"image": ("a.jpg", image_bytes("obama.jpg"))}
    missing = client.post("/api/v1/faces/detect", files=files)
    assert missing.status_code == 401 and _error(missing) == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    forged = tokens["viewer"][:-4] + "AAAA"
    assert client.post("/api/v1/faces/detect", files=files, headers=auth(forged)).status_code == 401
    via_header = client.post("/api/v1/faces/detect", files=files, headers={"X-API-Key": tokens["viewer"]})
    assert via_header.status_code == 200


def test_metrics_count_routes_and_time_inference(client, tokens):
    client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]),
                files={"image": ("a", image_bytes("obama.jpg"))})
    text = client.get("/metrics", headers=auth(tokens["admin"])).text  # keyed since issue 8
    assert 'sightline_http_requests_total{method="POST",route="/api/v1/faces/detect",status="200"}' in text
    assert 'sightline_inference_seconds_count{model="yunet",stage="detect"}' in text
    assert 'sightline_inference_seconds_count{model="image",stage="decode"}' in text


def test_health_ready_openapi_docs(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["models_loaded"] and ready.json()["database"]
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/faces/detect", "/api/v1/faces/identify", "/api/v1/subjects", "/api/v1/audit",
            "/api/v1/keys"} <= set(schema["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and _error(unknown) == "not_found"


def test_rgba_png_and_json_image_object(client, tokens):
    with Image.open(EXAMPLES / "obama.jpg") as image:
        buffer = io.BytesIO()
        image.convert("RGBA").save(buffer, "PNG")
    payload = {"image": [{"name": "obama.png", "data": b64(buffer.getvalue())}]}
    response = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]), content=json.dumps(payload),
                           params={}, )
    assert response.status_code == 415  # no content type given
    response = client.post("/api/v1/faces/detect", headers=auth(tokens["viewer"]), json=payload)
    assert response.status_code == 200
    assert response.json()["results"][0]["image"] == "obama.png"
    assert len(response.json()["results"][0]["faces"]) == 1
