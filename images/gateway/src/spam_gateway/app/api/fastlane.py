"""``POST /predict`` without FastAPI's routing and dependency solving, for the requests that
need neither: a known API key, a valid (or absent) ``X-Environment``, a declared
``Content-Length`` and a JSON body that validates as :class:`EmailIn`.

Measured on 2 cores, FastAPI's per-request work for this one route (route matching, four
dependency nodes, the body field) was about half of the gateway's CPU per prediction. This
pure ASGI middleware sits inside ``RequestContextMiddleware`` (correlation id, body limit,
metrics and access log still apply) and does what the route does with the same objects: the
key store, the ``environment`` rule, ``EmailIn``, ``Scorer.one`` and the JSON error mapping of
``app/api/errors.py``.

Anything else — no or unknown key, a bad ``X-Environment``, malformed JSON, a body that does
not validate, another content type, a chunked body, a query string (``?explain=true``),
dependency overrides — falls through to
the FastAPI route unchanged, with the body replayed, so every error keeps exactly the
answer it had. The route stays registered for the OpenAPI contract and for those requests.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spam_core.message.wire import EmailIn
from spam_gateway.app.api.errors import JSONResponse, gateway_error_handler
from spam_gateway.app.core.config import ENVIRONMENTS
from spam_gateway.app.core.errors import GatewayError

PATH = "/predict"
_API_KEY = b"x-api-key"
_ENVIRONMENT = b"x-environment"
_CONTENT_TYPE = b"content-type"
_CONTENT_LENGTH = b"content-length"


def _is_json(content_type: bytes | None) -> bool:
    return (
        content_type is not None
        and content_type.split(b";", 1)[0].strip().lower() == b"application/json"
    )


def _replay(body: bytes, receive: Receive, last: Message | None = None) -> Receive:
    """``receive`` that hands the already-read body over again, then the real stream."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": last is not None}]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class PredictFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: Any = None

    def _predict_route(self) -> Any:
        """The ``POST /predict`` APIRoute of ``app/api/routes/predict.py`` (what FastAPI puts
        in ``scope["route"]``, read by the request metrics)."""
        if self._route is None:
            from spam_gateway.app.api.routes import predict

            found = [
                r
                for r in predict.router.routes
                if getattr(r, "path", None) == PATH and "POST" in getattr(r, "methods", ())
            ]
            self._route = found[0] if found else False
        return self._route or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("query_string")  # ?explain=… and the like: the route reads them
        ):
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        state = getattr(app, "state", None)
        scorer = getattr(state, "scorer", None)
        route = self._predict_route() if scorer is not None else None
        if route is None or app.dependency_overrides:
            await self.app(scope, receive, send)
            return

        key = environment = content_type = length = None
        for name, value in scope["headers"]:
            if name == _API_KEY:
                key = value if key is None else key
            elif name == _ENVIRONMENT:
                environment = value if environment is None else environment
            elif name == _CONTENT_TYPE:
                content_type = value if content_type is None else content_type
            elif name == _CONTENT_LENGTH:
                length = value
        if length is None or not _is_json(content_type):
            await self.app(scope, receive, send)  # chunked or not JSON: the route decides
            return

        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the route see it
                await self.app(scope, _replay(b"".join(chunks), receive, message), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)

        email = self._accept(state, key, environment, body)
        if email is None:
            await self.app(scope, _replay(body, receive), send)
            return
        track, email_in = email
        scope["spam.environment"] = track
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = JSONResponse(await scorer.one(request, track, email_in))
        except GatewayError as exc:
            response = await gateway_error_handler(request, exc)
        await response(scope, receive, send)

    @staticmethod
    def _accept(
        state: Any, key: bytes | None, environment: bytes | None, body: bytes
    ) -> tuple[str, EmailIn] | None:
        """(track, e-mail) when the route would accept the request; ``None`` otherwise."""
        if not key or state.key_store.authenticate(key.decode("latin-1")) is None:
            return None
        if environment is None:
            track = state.settings.DEFAULT_ENVIRONMENT
        else:
            track = environment.decode("latin-1").strip().lower()
            if track not in ENVIRONMENTS:
                return None
        try:
            return track, EmailIn.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            return None
