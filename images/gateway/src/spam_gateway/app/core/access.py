"""Who may call what, on which track: the gateway's access rules, as plain functions.

The route dependencies (``app/api/deps.py``) and the ``POST /predict`` fast lane
(``app/api/fastlane.py``) both call these, so the two doors into a route cannot disagree:

* :func:`authenticate` — the caller's key from ``X-API-Key`` (401 without one or with an
  unknown one);
* :func:`authorize` — the key's role against the role a route requires (403);
* :func:`resolve_environment` — the model track from ``X-Environment`` (the default when
  absent; case and surrounding blanks ignored; anything else 422), or from the path of a track
  alias (``POST /predict/staging``), with which a header present must agree (else 422).

A route declares the role it needs with ``Depends(requires(role))`` (``deps.ViewerKey``,
``deps.OperatorKey``); :func:`required_role` reads that declaration back from the route, which
is how the fast lane applies the same check.
"""

from __future__ import annotations

from typing import Any

from spam_gateway.app.core.config import ENVIRONMENTS, Environment
from spam_gateway.app.core.errors import (
    EnvironmentConflict,
    Forbidden,
    InvalidEnvironment,
    Unauthenticated,
)
from spam_gateway.app.core.security import ApiKey, ApiKeyStore, Role


def authenticate(key_store: ApiKeyStore, presented: str | None) -> ApiKey:
    """The caller's key (any role); ``Unauthenticated`` without one or with an unknown one."""
    if not presented:
        raise Unauthenticated("missing X-API-Key header")
    key = key_store.authenticate(presented)
    if key is None:
        raise Unauthenticated("unknown API key")
    return key


def authorize(key: ApiKey, required: Role) -> ApiKey:
    """``key`` when its role allows ``required``; ``Forbidden`` otherwise."""
    if not key.role.allows(required):
        raise Forbidden(
            f"this route needs the {required.name} role",
            details={"key": key.name, "role": key.role.name, "required": required.name},
        )
    return key


def resolve_environment(
    header: str | None, default: Environment, path: Environment | None = None
) -> Environment:
    """The model track of a request: ``path`` (the track of an alias route such as
    ``/predict/staging``) or ``X-Environment`` or ``default``, in that order.

    ``InvalidEnvironment`` for an unknown header value; ``EnvironmentConflict`` when the path
    names a track and the header names another (both 422)."""
    if header is None:
        return default if path is None else path
    value = header.strip().lower()
    if value not in ENVIRONMENTS:
        raise InvalidEnvironment(
            f"unknown X-Environment {header[:40]!r}", details={"allowed": list(ENVIRONMENTS)}
        )
    if path is not None and value != path:
        raise EnvironmentConflict(
            f"X-Environment {value!r} conflicts with the track of the path ({path!r}): "
            "send the header with the same track, or none",
            details={"path": path, "header": value},
        )
    return value  # type: ignore[return-value]


ROLE_ATTRIBUTE = "required_role"
"""Set on the dependency callables of :func:`spam_gateway.app.api.deps.requires`."""


def required_role(route: Any) -> Role | None:
    """The highest role the route's dependencies require (``None``: no key needed)."""
    found: list[Role] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        role = getattr(dependant.call, ROLE_ATTRIBUTE, None)
        if role is not None:
            found.append(role)
        stack.extend(dependant.dependencies)
    return max(found) if found else None
