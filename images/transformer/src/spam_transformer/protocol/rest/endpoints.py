"""Thin async REST handlers over the :class:`DataPlane` (KServe's ``v2_endpoints.py`` pattern).

The hot path is :class:`PredictRoute`, a route of the shared fast lane
(:mod:`spam_core.fastlane`): the body is read as bytes (bounded by ``MAX_REQUEST_BYTES``),
validated with pydantic straight from JSON, and the response dict is serialized once with
orjson, without FastAPI's routing, body parsing or response validation. Errors are raised,
never turned into responses here: ``server.py`` maps them (and counts them) in one place.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers

from spam_core.fastlane import BodyTooLarge, LaneRoute, Receive, Scope
from spam_transformer.errors import TransformerError
from spam_transformer.metrics import TransformerMetrics
from spam_transformer.model import FORWARDABLE_HEADERS
from spam_transformer.protocol.datamodels import (
    ErrorResponse,
    HealthResponse,
    PredictRequest,
    PredictResponse,
    ReadyResponse,
)
from spam_transformer.protocol.dataplane import DataPlane

ErrorHandler = Callable[[Request, TransformerError | BodyTooLarge], Awaitable[Response]]

JSON = "application/json"
PREDICT_PATH = "/v1/predict"


def json_response(content: object, status_code: int = 200, headers=None) -> Response:
    return Response(orjson.dumps(content), status_code, headers, media_type=JSON)


class PredictRoute(LaneRoute):
    """``POST /v1/predict``: the route the fast lane of ``server.py`` serves (and the FastAPI
    route's handler). Bodies over ``max_request_bytes`` are refused (413), the body is decoded
    by the data plane (pydantic, straight from JSON), the track's model scores it and the
    answer is counted; errors are mapped by ``on_error`` (``server.py``'s one error mapping)."""

    def __init__(
        self,
        dataplane: DataPlane,
        metrics: TransformerMetrics,
        *,
        max_request_bytes: int,
        on_error: ErrorHandler,
    ) -> None:
        self.dataplane = dataplane
        self.max_body_bytes = max_request_bytes
        self.on_error = on_error
        self._latency = {name: metrics.request_latency.labels(name) for name in dataplane.models}
        self._answered = {name: metrics.requests.labels(name, "200") for name in dataplane.models}
        self._batch_size = {name: metrics.batch_size.labels(name) for name in dataplane.models}

    def admit(self, scope: Scope) -> float:
        return time.perf_counter()  # every request: the latency counts from here

    def decode(self, scope: Scope, admitted: float, body: bytes) -> tuple[float, PredictRequest]:
        return admitted, self.dataplane.decode(body)

    async def handle(
        self, scope: Scope, receive: Receive, payload: tuple[float, PredictRequest]
    ) -> dict[str, Any]:
        started, request = payload
        environment = request.environment
        if environment in self._latency:  # the error mapping labels its count with it
            scope.setdefault("state", {})["environment"] = environment
        headers = Headers(scope=scope)
        forwarded = {k: v for k in FORWARDABLE_HEADERS if (v := headers.get(k))}
        result = await self.dataplane.predict(request, forwarded, started)
        self._answered[environment].inc()
        self._batch_size[environment].observe(len(request.emails))
        self._latency[environment].observe(time.perf_counter() - started)
        return result

    async def error(self, scope: Scope, receive: Receive, exc: Exception) -> Response | None:
        if not isinstance(exc, (TransformerError, BodyTooLarge)):
            return None  # propagates, as from the route: the app's ``unexpected`` handler
        return await self.on_error(Request(scope, receive), exc)


def register_endpoints(
    app: FastAPI,
    dataplane: DataPlane,
    metrics: TransformerMetrics,
    *,
    max_request_bytes: int,
    on_error: ErrorHandler,
) -> PredictRoute:
    """Add the routes to ``app``; returns the ``POST /v1/predict`` route of the fast lane
    (``server.py``), which the FastAPI route below also answers with."""
    router = APIRouter()
    lane = PredictRoute(dataplane, metrics, max_request_bytes=max_request_bytes, on_error=on_error)

    @router.post(
        PREDICT_PATH,
        tags=["predict"],
        summary="Score 1..MAX_BATCH e-mails with one model track",
        responses={
            200: {"model": PredictResponse},
            413: {"model": ErrorResponse},
            422: {"model": ErrorResponse},
            502: {"model": ErrorResponse},
            503: {"model": ErrorResponse, "description": "Triton unavailable (Retry-After)"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        """Served by the fast lane; this route answers what the lane refers to it (a client
        that left while sending), with the same steps (errors: the app's handlers)."""
        scope = request.scope
        return json_response(await lane.answer(scope, request.receive, lane.admit(scope)))

    @router.get("/health", tags=["health"], responses={200: {"model": HealthResponse}})
    async def health() -> Response:
        """Liveness: the process answers (never calls Triton)."""
        return json_response(dataplane.health())

    @router.get(
        "/ready",
        tags=["health"],
        responses={200: {"model": ReadyResponse}, 503: {"model": ReadyResponse}},
    )
    async def ready() -> Response:
        """Readiness: both tracks' artifacts loaded and each Triton model ready."""
        is_ready, body = await dataplane.ready()
        return json_response(body, 200 if is_ready else 503)

    @router.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
    return lane
