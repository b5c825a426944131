"""Scenarios every chart test can run against: the environment files and the ci/ scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from tests.charts import chartlib

# name -> values of one `helm install`
SCENARIOS: dict[str, dict[str, Any]] = {
    **{f"values/{env}.yaml": chartlib.env_values(env) for env in chartlib.ENV_FILES},
    **{f"ci/{name}": chartlib.ci_values(name) for name in chartlib.CI_FILES},
}


def scenario_params() -> list[Any]:
    return [pytest.param(name, id=name) for name in SCENARIOS]


@pytest.fixture(params=scenario_params())
def scenario(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, SCENARIOS[request.param]


def networkpolicies_on(values: dict[str, Any]) -> bool:
    return bool(values.get("global", {}).get("networkPolicy", {}).get("enabled"))
