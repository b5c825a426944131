"""The CI scripts run against the same real serving stack the gateway tests use."""

from tests.gateway.conftest import down_gateway, gateway, make_gateway  # noqa: F401 (fixtures)
