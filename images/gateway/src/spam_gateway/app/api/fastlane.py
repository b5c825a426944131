"""``POST /predict`` (and its track aliases ``/predict/staging``, ``/predict/production``:
``routes/predict.py``'s ``PREDICT_PATHS``) without FastAPI's routing and dependency solving,
for the requests that need neither: a known API key, a valid (or absent) ``X-Environment``
that agrees with the path's track, a declared ``Content-Length`` and a JSON body that
validates as :class:`EmailIn`.

FastAPI's per-request work for this one route (route matching, the dependency nodes, the body
field) was about half of the gateway's CPU per prediction (README, "Measured design choices"). This
pure ASGI middleware sits inside ``RequestContextMiddleware`` (correlation id, body limit,
metrics and access log still apply) and does what the route does with the same objects: the
access rules of ``app/core/access.py`` (authentication, the role the route declares, the
track rule with the path's track), ``EmailIn``, ``Scorer.one`` and the JSON error mapping of
``app/api/errors.py``. A role added to the route applies here too: the lane reads it from the
route's dependencies.

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
from spam_gateway.app.api.gate import SCOPE_KEY
from spam_gateway.app.core.access import (
    authenticate,
    authorize,
    required_role,
    resolve_environment,
)
from spam_gateway.app.core.errors import GatewayError
from spam_gateway.app.core.security import Role

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
        self._routes: dict[str, tuple[Any, Role | None, str | None]] | None = None

    def _predict_routes(self) -> dict[str, tuple[Any, Role | None, str | None]]:
        """``path → (APIRoute, role, track)`` for each path of ``PREDICT_PATHS``: the route
        of ``app/api/routes/predict.py`` (what FastAPI puts in ``scope["route"]``, read by the
        request metrics), the role it declares and the track its path names."""
        if self._routes is None:
            from spam_gateway.app.api.routes import predict

            routes = {
                r.path: r
                for r in predict.router.routes
                if getattr(r, "path", None) in predict.PREDICT_PATHS
                and "POST" in getattr(r, "methods", ())
            }
            self._routes = {
                path: (routes[path], required_role(routes[path]), track)
                for path, track in predict.PREDICT_PATHS.items()
                if path in routes
            }
        return self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("query_string")  # ?explain=… and the like: the route reads them
        ):
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        state = getattr(app, "state", None)
        scorer = getattr(state, "scorer", None)
        found = self._predict_routes().get(scope["path"]) if scorer is not None else None
        if found is None or app.dependency_overrides:
            await self.app(scope, receive, send)
            return
        route, route_role, path_track = found

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

        role = None if scope.get(SCOPE_KEY) is not None else route_role  # the gate checked it
        email = self._accept(state, role, key, environment, body, path_track)
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
        state: Any,
        role: Role | None,
        key: bytes | None,
        environment: bytes | None,
        body: bytes,
        path_track: str | None = None,
    ) -> tuple[str, EmailIn] | None:
        """(track, e-mail) when the route would accept the request; ``None`` otherwise (the
        route then answers, with the same rules' error)."""
        try:
            if role is not None:
                authorize(authenticate(state.key_store, key and key.decode("latin-1")), role)
            track = resolve_environment(
                None if environment is None else environment.decode("latin-1"),
                state.settings.DEFAULT_ENVIRONMENT,
                path_track,  # type: ignore[arg-type]
            )
            return track, EmailIn.model_validate(orjson.loads(body))
        except (GatewayError, orjson.JSONDecodeError, ValidationError):
            return None
