"""Scenarios every chart test can run against: the environment files and the ci/ scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from tests.charts.chartlib import SCENARIOS


def scenario_params() -> list[Any]:
    return [pytest.param(name, id=name) for name in SCENARIOS]


@pytest.fixture(params=scenario_params())
def scenario(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, SCENARIOS[request.param]
