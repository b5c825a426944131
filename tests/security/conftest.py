"""Hostile-input tests (issue 11's table, one test per row) against the real services: the
``spam-transformer`` subprocess in front of the bundled Triton (``tests/utils/serving_fixtures.py``)
and the gateway in front of it (``tests/gateway/conftest.py``'s fixtures, reused here)."""

from tests.gateway.conftest import gateway, make_gateway  # noqa: F401  (fixtures)
