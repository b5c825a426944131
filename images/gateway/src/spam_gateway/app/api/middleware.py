"""One pure ASGI middleware for every request: correlation id, body limit, metrics, access log.

* ``X-Correlation-ID``: taken from the request when it is a sane token (≤ 128 characters of
  ``A-Z a-z 0-9 . _ : -``), else generated; bound to the structlog context and echoed on the
  response.
* Body limit: a declared ``Content-Length`` above the limit is refused at once (413); a
  chunked body is counted as it is read and refused when it crosses the limit. A body not
  received within ``BODY_TIMEOUT_S`` of its first read is refused (408, :class:`BodyDeadlines`:
  up to a tenth of the timeout later, at most 1 s): a slowly sent body cannot hold a
  connection and its buffer for long.
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
from typing import Any

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
        self.body_deadlines = BodyDeadlines(body_timeout_s)
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
            app_receive = self.body_deadlines.receive(receive)
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


class BodyDeadlines:
    """The slow-body timeout of every request, on one loop timer.

    A timer per request (``asyncio.timeout``) cost more CPU than anything else the gateway
    adds to a prediction's request (README, "Measured design choices"). Here a request waiting
    for its body is only noted (task → deadline); one timer, running while any request waits,
    cancels those past their deadline every ``resolution_s``, so a slow body is refused between
    ``timeout_s`` and ``timeout_s + resolution_s`` after its first read.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.resolution_s = min(1.0, timeout_s / 10)
        self._waiting: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in list(self._waiting.items()):
            if deadline <= now:
                del self._waiting[task]
                if not task.done():
                    self._expired.add(task)
                    task.cancel()
        self._timer = loop.call_later(self.resolution_s, self._sweep) if self._waiting else None

    def receive(self, receive: Receive) -> Receive:
        """``receive`` that refuses (408) a body not complete ``timeout_s`` after the first
        read."""
        deadline: float | None = None
        complete = False

        async def wrapped() -> Message:
            nonlocal deadline, complete
            if complete:  # after the body: waiting for a disconnect is not bounded here
                return await receive()
            task = asyncio.current_task()
            assert task is not None
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self.timeout_s
            self._waiting[task] = deadline
            if self._timer is None or self._loop is not loop:  # (tests run several loops)
                self._loop = loop
                self._timer = loop.call_later(self.resolution_s, self._sweep)
            try:
                message = await receive()
            except asyncio.CancelledError:
                if task in self._expired:
                    self._expired.discard(task)
                    if task.uncancel() == 0:  # our cancellation, and no other
                        raise HTTPException(
                            408, f"the request body was not received within {self.timeout_s:g} s"
                        ) from None
                raise
            finally:
                self._waiting.pop(task, None)
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        return wrapped
