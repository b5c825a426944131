"""The REST server: builds the FastAPI app from a :class:`DataPlane` (KServe's ``RESTServer``).

Separate steps: ``_register_endpoints``, ``_add_exception_handlers`` (the ONE place where domain
errors become HTTP answers ``{"error": {"code", "message", "details"}}``), ``_add_middlewares``,
the OpenAPI schema, and the lifespan that starts and closes the Triton clients. No
``BaseHTTPMiddleware`` sits on the hot path (each costs a measurable share of the throughput:
README, "Measured design choices"); metrics are counted by the handlers and by the error
mapping.

The one middleware is the shared fast lane (:class:`spam_core.fastlane.FastLane`, pure ASGI, the
gateway's pattern too): ``POST /v1/predict`` goes straight to its route
(``endpoints.PredictRoute``) and domain errors to the same error mapping, without FastAPI's
router and request wrapping (a tenth of the transformer's CPU per e-mail when measured:
README, "Measured design choices"). Every other request takes the FastAPI route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from spam_core.fastlane import BodyTooLarge, FastLane
from spam_transformer import __version__
from spam_transformer.errors import (
    InvalidInput,
    ModelNotReady,
    PayloadTooLarge,
    PredictorError,
    PredictorUnavailable,
    TransformerError,
)
from spam_transformer.metrics import TransformerMetrics
from spam_transformer.protocol.datamodels import PredictRequest
from spam_transformer.protocol.dataplane import DataPlane
from spam_transformer.protocol.rest.endpoints import (
    PREDICT_PATH,
    PredictRoute,
    json_response,
    register_endpoints,
)

log = structlog.get_logger("spam_transformer.rest")

# Domain error -> HTTP status; the most specific class in an error's MRO wins.
STATUS_FOR_ERROR: dict[type[TransformerError], int] = {
    PayloadTooLarge: 413,
    InvalidInput: 422,
    ModelNotReady: 503,
    PredictorUnavailable: 503,
    PredictorError: 502,
    TransformerError: 500,
}
RETRYABLE_STATUS = 503


def status_for(exc: TransformerError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[cls]
    return 500


def error_document(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class RESTServer:
    def __init__(
        self,
        dataplane: DataPlane,
        metrics: TransformerMetrics,
        *,
        max_request_bytes: int = 32 * 1024 * 1024,
        retry_after_s: int = 2,
    ) -> None:
        self.dataplane = dataplane
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.retry_after_s = retry_after_s

    def create_application(self) -> FastAPI:
        app = FastAPI(
            title="spam-platform transformer",
            version=__version__,
            description="E-mails → 529 features (spam_core + Feast sender reputation) → "
            "Triton → spam probabilities.",
            lifespan=self._lifespan,
            # FastAPI's native OpenTelemetry hooks stay off: /metrics (Prometheus) is the
            # transformer's telemetry, and the per-request provider checks cost throughput
            telemetry={"tracing": False, "metrics": False, "logs": False},
        )
        predict = self._register_endpoints(app)
        self._add_exception_handlers(app)
        self._add_middlewares(app, predict)
        app.openapi = lambda: self._openapi(app)  # type: ignore[method-assign]
        return app

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        status = await self.dataplane.start()
        log.info(
            "transformer started",
            ready=status["ready"],
            tracks={name: track["detail"] for name, track in status["tracks"].items()},
        )
        try:
            yield
        finally:
            await self.dataplane.stop()
            log.info("transformer stopped")

    def _register_endpoints(self, app: FastAPI) -> PredictRoute:
        return register_endpoints(
            app,
            self.dataplane,
            self.metrics,
            max_request_bytes=self.max_request_bytes,
            on_error=self._domain_error,
        )

    def _add_middlewares(self, app: FastAPI, predict: PredictRoute) -> None:
        app.add_middleware(FastLane, routes={PREDICT_PATH: predict})

    # ------------------------------------------------------------------ errors

    def _error_response(
        self, request: Request, status: int, code: str, message: str, details: Any = None
    ) -> Response:
        environment = getattr(request.state, "environment", "unknown")
        if request.url.path == PREDICT_PATH:
            self.metrics.requests.labels(environment, str(status)).inc()
        headers = {"Retry-After": str(self.retry_after_s)} if status == RETRYABLE_STATUS else None
        return json_response(error_document(code, message, details), status, headers)

    async def _domain_error(
        self, request: Request, exc: TransformerError | BodyTooLarge
    ) -> Response:
        if isinstance(exc, BodyTooLarge):  # the fast lane's body limit
            exc = PayloadTooLarge(str(exc))
        status = status_for(exc)
        if status >= 500:
            log.warning(
                "request failed",
                code=exc.code,
                status=status,
                error=exc.message,
                environment=getattr(request.state, "environment", None),
            )
        return self._error_response(request, status, exc.code, exc.message, exc.details)

    def _add_exception_handlers(self, app: FastAPI) -> None:
        async def request_validation(request: Request, exc: RequestValidationError) -> Response:
            details = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            return self._error_response(
                request, 422, "validation_error", "the request does not match the schema", details
            )

        async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            return self._error_response(request, exc.status_code, code, str(exc.detail))

        async def unexpected(request: Request, exc: Exception) -> Response:
            log.exception("unhandled error", path=request.url.path)
            return self._error_response(
                request, 500, "internal_error", f"unexpected {type(exc).__name__}"
            )

        app.add_exception_handler(TransformerError, self._domain_error)  # type: ignore[arg-type]
        app.add_exception_handler(BodyTooLarge, self._domain_error)  # type: ignore[arg-type]
        app.add_exception_handler(RequestValidationError, request_validation)  # type: ignore[arg-type]
        app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
        app.add_exception_handler(Exception, unexpected)

    # ------------------------------------------------------------------ OpenAPI

    def _openapi(self, app: FastAPI) -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        request = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(request.pop("$defs", {}))
        components["PredictRequest"] = request
        app.openapi_schema = schema
        return schema
