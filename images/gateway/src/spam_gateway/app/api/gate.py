"""The access gate: a route's key is checked from the headers, before any body is read.

FastAPI reads a route's body before it solves the route's dependencies, so a caller without a
key could make the gateway wait for (and buffer) a large, slowly sent body only to be refused
afterwards. This pure ASGI middleware finds the route a request goes to, and when the route
needs a role (``access.required_role``) applies the access rules of ``app/core/access.py`` to
the headers first: 401 / 403 at once, the body never read. It also applies the abuse limits of
``app/core/throttle.py`` (failed authentications per client, quotas per key) and counts them in
``/metrics``. The accepted key is left in the scope, where the route dependency and the
``/predict`` fast lane take it instead of authenticating again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from spam_gateway.app.api.errors import gateway_error_handler
from spam_gateway.app.core.access import authenticate, authorize, required_role
from spam_gateway.app.core.errors import GatewayError, TooManyRequests, Unauthenticated
from spam_gateway.app.core.security import Role

SCOPE_KEY = "spam.api_key"
"""Where the gate leaves the authenticated ``ApiKey``."""
_API_KEY = b"x-api-key"


class AccessGate:
    def __init__(self, app: ASGIApp, routes: Sequence[Any]) -> None:
        """``routes``: the application's ``APIRoute`` objects (``api.main.ROUTERS``)."""
        self.app = app
        self._static: dict[tuple[str, str], Role] = {}
        self._dynamic: list[tuple[Any, Role]] = []
        for route in routes:
            role = required_role(route)
            if role is None:
                continue
            if route.param_convertors:
                self._dynamic.append((route, role))
            else:
                for method in route.methods:
                    self._static[(method, route.path)] = role

    def _role(self, scope: Scope) -> Role | None:
        """The role the request's route needs (``None``: none, or no such route)."""
        role = self._static.get((scope["method"], scope["path"]))
        if role is not None:
            return role
        for route, role in self._dynamic:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return role
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        role = self._role(scope)
        if role is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        throttle = state.throttle
        client = scope["client"][0] if scope.get("client") else ""
        presented = None
        for name, value in scope["headers"]:
            if name == _API_KEY:
                presented = value.decode("latin-1")
                break
        try:
            throttle.check_client(client)
            try:
                key = authenticate(state.key_store, presented)
            except Unauthenticated:
                state.metrics.auth_failures.inc()
                throttle.failed(client)
                raise
            authorize(key, role)
            throttle.check_quota(key)
        except GatewayError as exc:
            if isinstance(exc, TooManyRequests):
                reason = "quota" if exc.code == "quota_exceeded" else "auth"
                state.metrics.throttled.labels(reason).inc()
            response = await gateway_error_handler(Request(scope), exc)
            await response(scope, receive, send)
            return
        scope[SCOPE_KEY] = key
        await self.app(scope, receive, send)
