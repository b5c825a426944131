"""Thin async REST handlers over the :class:`DataPlane` (KServe's ``v2_endpoints.py`` pattern).

The hot path avoids FastAPI's body parsing and response validation: the body is read as bytes
(bounded by ``MAX_REQUEST_BYTES``), validated with pydantic straight from JSON, and the
response dict is serialized once with orjson. Errors are raised, never turned into responses
here: ``server.py`` maps them (and counts them) in one place.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spam_transformer.errors import PayloadTooLarge
from spam_transformer.metrics import TransformerMetrics
from spam_transformer.model import FORWARDABLE_HEADERS
from spam_transformer.protocol.datamodels import (
    ErrorResponse,
    HealthResponse,
    PredictResponse,
    ReadyResponse,
)
from spam_transformer.protocol.dataplane import DataPlane

JSON = "application/json"
PREDICT_PATH = "/v1/predict"


def json_response(content: object, status_code: int = 200, headers=None) -> Response:
    return Response(orjson.dumps(content), status_code, headers, media_type=JSON)


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"request body is {length} bytes, the limit is {limit}")
    if length is not None:
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def register_endpoints(
    app: FastAPI, dataplane: DataPlane, metrics: TransformerMetrics, *, max_request_bytes: int
) -> Callable[[Request], Awaitable[Response]]:
    """Add the routes to ``app``; returns the ``POST /v1/predict`` handler (for the fast lane
    of ``server.py``, which calls it without FastAPI's routing)."""
    router = APIRouter()
    latency = {name: metrics.request_latency.labels(name) for name in dataplane.models}
    answered = {name: metrics.requests.labels(name, "200") for name in dataplane.models}
    batch_size = {name: metrics.batch_size.labels(name) for name in dataplane.models}

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
        started = time.perf_counter()
        body = await read_body(request, max_request_bytes)
        payload = dataplane.decode(body)
        environment = payload.environment
        if environment in latency:
            request.state.environment = environment
        headers = {k: v for k in FORWARDABLE_HEADERS if (v := request.headers.get(k))}
        result = await dataplane.predict(payload, headers, started)
        response = json_response(result)
        answered[environment].inc()
        batch_size[environment].observe(len(payload.emails))
        latency[environment].observe(time.perf_counter() - started)
        return response

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
    return predict
