"""One pure ASGI middleware for every request: correlation id, body limit, metrics, access log.

* ``X-Correlation-ID``: taken from the request when it is a sane token (≤ 128 characters of
  ``A-Z a-z 0-9 . _ : -``), else generated; bound to the structlog context and echoed on the
  response.
* Body limit: a declared ``Content-Length`` above the limit is refused at once (413); a
  chunked body is counted as it is read and refused when it crosses the limit. A body not
  received within ``BODY_TIMEOUT_S`` of the request's start is refused (408): a slowly sent
  body cannot hold a connection and its buffer for long.
* Metrics: count and latency (to the response start) per route template, method, status,
  environment and model version (set by the predict routes in the scope).
* An exception that escapes the application still gets the JSON error envelope (500).

Pure ASGI rather than ``BaseHTTPMiddleware``: no extra task or body copy per request.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spam_gateway.app.api.errors import (
    error_response,
    http_error_response,
    unexpected_error_response,
)
from spam_gateway.app.metrics import Metrics

_CORRELATION_RE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_HEADER = b"x-correlation-id"

access_log = structlog.get_logger("spam_gateway.access")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        body_timeout_s: float = 10.0,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        correlation_id = None
        content_length = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                text = value.decode("latin-1")
                if _CORRELATION_RE.fullmatch(text):
                    correlation_id = text
            elif name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
        if correlation_id is None:
            correlation_id = uuid.uuid4().hex
        scope["spam.correlation_id"] = correlation_id
        scope["spam.started"] = started
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)

        status = 500
        response_started = False
        cid_header = (_HEADER, correlation_id.encode("latin-1"))

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), cid_header]
                self._observe(scope, status, time.perf_counter() - started)
            await send(message)

        limit = self.max_body_bytes
        if content_length is not None and content_length > limit:
            response = error_response(
                Request(scope),
                413,
                "payload_too_large",
                f"request body of {content_length} bytes exceeds the limit of {limit} bytes",
                {"limit_bytes": limit},
            )
            await response(scope, receive, send_wrapper)
        else:
            app_receive = _timed(receive, self.body_timeout_s)
            if content_length is None:
                app_receive = _limited(app_receive, limit)
            try:
                await self.app(scope, app_receive, send_wrapper)
            except HTTPException as exc:  # the body's limits, met outside a FastAPI route
                if response_started:
                    raise
                await http_error_response(Request(scope), exc)(scope, receive, send_wrapper)
            except Exception as exc:
                if response_started:
                    raise
                await unexpected_error_response(Request(scope), exc)(scope, receive, send_wrapper)
        if self.access_log:
            route = scope.get("route")
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=getattr(route, "path", None),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                environment=scope.get("spam.environment"),
                model_version=scope.get("spam.model_version"),
            )

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        self.metrics.observe_request(
            getattr(route, "path", "unmatched"),
            scope["method"],
            status,
            scope.get("spam.environment", ""),
            scope.get("spam.model_version", ""),
            seconds,
        )


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses a (chunked) body once it crosses ``limit`` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # an HTTPException passes through FastAPI's body reading unchanged
                raise HTTPException(413, f"request body exceeds the limit of {limit} bytes")
        return message

    return wrapped


def _timed(receive: Receive, timeout_s: float) -> Receive:
    """``receive`` that refuses (408) a body not complete ``timeout_s`` after the first read."""
    deadline: float | None = None
    complete = False

    async def wrapped() -> Message:
        nonlocal deadline, complete
        if complete:  # after the body: waiting for a disconnect is not bounded here
            return await receive()
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(
                408, f"the request body was not received within {timeout_s:g} s"
            ) from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            complete = True
        return message

    return wrapped
