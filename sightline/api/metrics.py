"""Prometheus metrics: request counts and latency by route, inference latency by model and stage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


API_PREFIX = "/api/v1"


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (e.g. ``/api/v1/subjects/{subject_id}``), None if unmatched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return None
    if scope.get("path", "").startswith(API_PREFIX + "/") and not path.startswith(API_PREFIX):
        return API_PREFIX + path
    return path


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sightline_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("sightline_http_request_duration_seconds", "HTTP request latency by route",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.inference = Histogram("sightline_inference_seconds", "Inference latency by model and stage",
                                   ["model", "stage"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("sightline_http_requests_in_flight", "Requests being served",
                               registry=self.registry)
        self.gallery_size = Gauge("sightline_gallery_templates", "Templates in the identification index",
                                  registry=self.registry)

    @contextmanager
    def time_inference(self, model: str, stage: str) -> Iterator[None]:
        """Observe the wall time of one inference stage (decode, detect, embed, search...)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.inference.labels(model, stage).observe(time.perf_counter() - start)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by the matched route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            label = route_template(scope) or ("static" if status < 400 else "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - start)


def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics`` in the Prometheus text format (admin key or scrape token unless opened)."""
    from sightline.api.auth import authorize_metrics  # auth imports this module

    authorize_metrics(request)
    return request.app.state.metrics.render()
