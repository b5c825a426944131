"""The fast-lane pattern for a hot JSON ``POST`` route: plain ASGI, no web framework.

Both services answer their one hot route (the gateway's ``POST /predict``, the transformer's
``POST /v1/predict``) before their framework's routing, request wrapping and dependency
solving, which cost a measurable share of each service's CPU per e-mail (README, "Measured
design choices"). :class:`FastLane` is that one pattern: a pure ASGI middleware that

1. matches the method and path (a dictionary lookup) and asks the route whether it takes the
   request from its headers alone (:meth:`LaneRoute.admit`: before any body is read);
2. reads the body (:func:`read_body`: a declared ``Content-Length`` or the running size of a
   chunked body above the route's limit raises :class:`BodyTooLarge`; a slow-body timeout, when
   the service has one, is the ``receive`` its outer middleware hands in);
3. decodes it (:meth:`LaneRoute.decode`: orjson, then the service's wire model), calls the
   route's handler (:meth:`LaneRoute.handle`) and sends its content as JSON (orjson);
4. hands an error to the route's mapping (:meth:`LaneRoute.error`: the service's one error
   envelope), and anything the mapping does not claim propagates as it would from the
   framework's route.

A route may refer a request to the framework's own route (:meth:`admit` says no, or
:meth:`decode` / :meth:`handle` raise :class:`Refer` before answering): the body already read
is replayed, so that route answers exactly as if the lane were not there. The client leaving
while the body is read is referred the same way. Each service keeps its route registered (the
OpenAPI contract, and the door for referred requests) and supplies a :class:`LaneRoute` per
path: what it accepts, its handler and its error mapping.

ASGI is a calling convention (dictionaries and coroutines), not a framework: nothing here
imports one, so the core stays a library.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_HEADERS = ((b"content-type", b"application/json"),)
_CONTENT_LENGTH = b"content-length"


class Refer(Exception):
    """Raised by a :class:`LaneRoute` before it answers: the framework's route takes the
    request (the body replayed)."""

    body = b""
    """The body read before the route referred the request (set by :meth:`LaneRoute.answer`)."""


class BodyTooLarge(Exception):
    """The request body is over the route's limit (declared, or counted as it arrived)."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        super().__init__(
            f"request body is {declared} bytes, the limit is {limit}"
            if declared is not None
            else f"request body exceeds {limit} bytes"
        )


class ClientLeft(Exception):
    """The client disconnected while its body was read: what arrived, and the message."""

    def __init__(self, body: bytes, message: Message) -> None:
        super().__init__("the client left before its body was read")
        self.body = body
        self.message = message


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), ``None`` when absent."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` when it is a whole number, else ``None``."""
    value = header(scope, _CONTENT_LENGTH)
    return int(value) if value is not None and value.isdigit() else None


async def read_body(scope: Scope, receive: Receive, limit: int | None = None) -> bytes:
    """The whole request body; :class:`BodyTooLarge` when it is over ``limit`` (a declared
    length is refused before anything is read), :class:`ClientLeft` on a disconnect."""
    if limit is not None:
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit, declared)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientLeft(b"".join(chunks), message)
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def replay(body: bytes, receive: Receive, last: Message | None = None) -> Receive:
    """``receive`` that hands ``body`` over again (then ``last``, if any), then the real
    stream."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": last is not None}]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def send_json(
    send: Send, content: Any, status: int = 200, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """One JSON answer (orjson), with its length."""
    body = orjson.dumps(content)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (_CONTENT_LENGTH, str(len(body)).encode("latin-1")),
                *JSON_HEADERS,
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LaneRoute(ABC):
    """One path of a :class:`FastLane`; a service subclasses it with its rules."""

    max_body_bytes: int | None = None
    """Bodies above this are refused with :class:`BodyTooLarge` (``None``: the service's outer
    middleware limits every body already)."""

    def admit(self, scope: Scope) -> Any:
        """What the route needs from the headers to take the request; falsy: the framework's
        route takes it (nothing has been read)."""
        return True

    def decode(self, scope: Scope, admitted: Any, body: bytes) -> Any:
        """The body as the handler's input (raise :class:`Refer` to hand it to the route)."""
        return orjson.loads(body)

    @abstractmethod
    async def handle(self, scope: Scope, receive: Receive, payload: Any) -> Any:
        """The answer's content, sent as JSON with status 200."""

    async def error(self, scope: Scope, receive: Receive, exc: Exception) -> ASGIApp | None:
        """The service's answer to ``exc`` (an ASGI app: its error envelope); ``None``: the
        exception propagates, as it would from the framework's route."""
        return None

    async def answer(self, scope: Scope, receive: Receive, admitted: Any) -> Any:
        """Read, decode, handle: the content of the answer (what the lane sends, and what a
        framework route built on this class returns). Raises what those steps raise."""
        body = await read_body(scope, receive, self.max_body_bytes)
        try:
            payload = self.decode(scope, admitted, body)
            return await self.handle(scope, receive, payload)
        except Refer as refer:
            refer.body = body  # what the framework's route is handed again
            raise


class FastLane:
    """Pure ASGI middleware: ``method`` + a path of ``routes`` → that :class:`LaneRoute`;
    every other request goes to ``app`` untouched."""

    def __init__(
        self, app: ASGIApp, *, routes: Mapping[str, LaneRoute], method: str = "POST"
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.method = method

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == self.method
            else None
        )
        admitted = route.admit(scope) if route is not None else None
        if not admitted:
            await self.app(scope, receive, send)
            return
        try:
            content = await route.answer(scope, receive, admitted)
        except ClientLeft as left:  # the framework's route sees the disconnect
            await self.app(scope, replay(left.body, receive, left.message), send)
            return
        except Refer as refer:
            await self.app(scope, replay(refer.body, receive), send)
            return
        except Exception as exc:
            answer = await route.error(scope, receive, exc)
            if answer is None:
                raise
            await answer(scope, receive, send)
            return
        await send_json(send, content)
