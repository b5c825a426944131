"""``POST /predict`` (and its track aliases ``/predict/staging``, ``/predict/production``:
``routes/predict.py``'s ``PREDICT_PATHS``) through the shared fast lane
(:class:`spam_core.fastlane.FastLane`, the transformer's pattern too), without FastAPI's routing
and dependency solving, for the requests that need neither: a known API key, a valid (or
absent) ``X-Environment`` that agrees with the path's track, a declared ``Content-Length`` and
a JSON body that validates as :class:`EmailIn`.

FastAPI's per-request work for this one route (route matching, the dependency nodes, the body
field) was about half of the gateway's CPU per prediction (README, "Measured design choices").
The lane sits inside ``RequestContextMiddleware`` (correlation id, body limit and slow-body
timeout, metrics and access log still apply) and :class:`PredictFastLane` does what the route
does with the same objects: the access rules of ``app/core/access.py`` (authentication, the
role the route declares, the track rule with the path's track), ``EmailIn``, ``Scorer.one``
and the JSON error mapping of ``app/api/errors.py``. A role added to the route applies here
too: the lane reads it from the route's dependencies.

Anything else — no or unknown key, a bad ``X-Environment``, malformed JSON, a body that does
not validate, another content type, a chunked body, a query string (``?explain=true``),
dependency overrides — is referred to the FastAPI route unchanged, with the body replayed, so
every error keeps exactly the answer it had. The route stays registered for the OpenAPI
contract and for those requests.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from spam_core.fastlane import LaneRoute, Receive, Refer, Scope
from spam_core.message.wire import EmailIn
from spam_gateway.app.api.errors import gateway_error_handler
from spam_gateway.app.api.gate import SCOPE_KEY
from spam_gateway.app.api.routes import predict
from spam_gateway.app.core.access import (
    authenticate,
    authorize,
    required_role,
    resolve_environment,
)
from spam_gateway.app.core.config import Environment
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


class PredictFastLane(LaneRoute):
    """One path of ``PREDICT_PATHS`` on the fast lane: its ``APIRoute`` (what FastAPI puts in
    ``scope["route"]``, read by the request metrics), the role it declares and the track its
    path names."""

    def __init__(self, route: APIRoute, track: Environment | None) -> None:
        self.route = route
        self.role = required_role(route)
        self.track = track

    def admit(self, scope: Scope) -> tuple[bytes | None, bytes | None] | None:
        """``(X-API-Key, X-Environment)`` when the lane may take the request."""
        if scope.get("query_string"):  # ?explain=… and the like: the route reads them
            return None
        app = scope.get("app")
        if getattr(getattr(app, "state", None), "scorer", None) is None or app.dependency_overrides:
            return None
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
            return None  # chunked or not JSON: the route decides
        return key, environment

    def decode(
        self, scope: Scope, admitted: tuple[bytes | None, bytes | None], body: bytes
    ) -> tuple[str, EmailIn]:
        role = None if scope.get(SCOPE_KEY) is not None else self.role  # the gate checked it
        key, environment = admitted
        accepted = self._accept(scope["app"].state, role, key, environment, body, self.track)
        if accepted is None:
            raise Refer
        return accepted

    async def handle(
        self, scope: Scope, receive: Receive, payload: tuple[str, EmailIn]
    ) -> dict[str, Any]:
        track, email = payload
        scope["spam.environment"] = track
        scope["route"] = self.route
        return await scope["app"].state.scorer.one(Request(scope, receive), track, email)

    async def error(self, scope: Scope, receive: Receive, exc: Exception) -> Response | None:
        if not isinstance(exc, GatewayError):
            return None
        return await gateway_error_handler(Request(scope, receive), exc)

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


def lane_routes() -> dict[str, PredictFastLane]:
    """``path → PredictFastLane`` for every path of ``PREDICT_PATHS`` (the ``POST`` routes of
    ``app/api/routes/predict.py``)."""
    routes = {
        r.path: r
        for r in predict.router.routes
        if isinstance(r, APIRoute) and r.path in predict.PREDICT_PATHS and "POST" in r.methods
    }
    return {
        path: PredictFastLane(routes[path], track) for path, track in predict.PREDICT_PATHS.items()
    }
