"""Domain errors of the gateway; ``app/api/errors.py`` maps each to an HTTP response."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error raised on purpose; ``code`` is the stable machine-readable name."""

    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        retry_after: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.retry_after = retry_after
        if code:
            self.code = code


class InvalidInput(GatewayError):
    code = "invalid_input"


class InvalidEnvironment(InvalidInput):
    code = "invalid_environment"


class EnvironmentConflict(InvalidEnvironment):
    """``X-Environment`` names another track than the route's path (``/predict/staging``)."""

    code = "environment_conflict"


class Unauthenticated(GatewayError):
    code = "unauthenticated"


class Forbidden(GatewayError):
    code = "forbidden"


class UpstreamUnavailable(GatewayError):
    """The transformer cannot be reached, or reports that it (or Triton) cannot serve."""

    code = "upstream_unavailable"


class UpstreamTimeout(GatewayError):
    code = "upstream_timeout"


class UpstreamError(GatewayError):
    """The transformer answered with something the gateway cannot use."""

    code = "bad_gateway"


class NotReady(GatewayError):
    code = "not_ready"


class NotFound(GatewayError):
    code = "not_found"


class TooManyRequests(GatewayError):
    """Throttled: too many failed authentications from this client, or the key's quota."""

    code = "too_many_requests"
