"""Every error → ``{"error": {"code", "message", "details"}, "correlation_id", "timestamp"}``.

The one place where domain errors (``app/core/errors.py``), request validation, Starlette's
HTTP exceptions (404, 405, 413) and anything unexpected become HTTP responses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response

from spam_gateway.app.batch_jobs import BatchUnavailable
from spam_gateway.app.core import errors

log = structlog.get_logger("spam_gateway.errors")

STATUS: dict[type[errors.GatewayError], int] = {
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.UpstreamUnavailable: 503,
    errors.UpstreamTimeout: 504,
    errors.UpstreamError: 502,
    errors.NotReady: 503,
    errors.NotFound: 404,
    errors.TooManyRequests: 429,
    BatchUnavailable: 503,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


class JSONResponse(StarletteJSONResponse):
    """orjson-rendered JSON (what every route returns). A ``JSONResponse`` subclass, so the
    OpenAPI document shows each route's response model (not ``{"type": "string"}``)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def correlation_id_of(request: Request) -> str:
    return request.scope.get("spam.correlation_id") or ""


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {"code": code, "message": message, "details": details},
        "correlation_id": correlation_id_of(request),
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: errors.GatewayError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


async def gateway_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GatewayError)
    status = status_of(exc)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    if status >= 500:
        log.warning("request.upstream_error", code=exc.code, status=status, message=exc.message)
    return error_response(request, status, exc.code, exc.message, exc.details, headers)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "loc": list(e.get("loc", ())),
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    malformed = any(d["type"] == "json_invalid" for d in details)
    message = "malformed JSON body" if malformed else "request validation failed"
    return error_response(request, 422, "invalid_input", message, details)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return http_error_response(request, exc)


def http_error_response(request: Request, exc: StarletteHTTPException) -> Response:
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(request, exc.status_code, code, message, headers=exc.headers)


def unexpected_error_response(request: Request, exc: BaseException) -> Response:
    log.error("request.unhandled", exc_info=exc)
    return error_response(request, 500, "internal_error", "internal error")


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    return unexpected_error_response(request, exc)


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.GatewayError, gateway_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
