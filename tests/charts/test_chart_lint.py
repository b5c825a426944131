"""`helm lint --strict` of the umbrella (every values set) and of each subchart."""

from __future__ import annotations

import helm_python
import pytest
import yaml

from tests.charts import chartlib
from tests.charts.chartlib import SCENARIOS

WARNING = 2


def problems(report):
    found = [m for m in report["messages"] if m["severity"] >= WARNING]
    return found + [{"error": e} for e in report["errors"]]


def umbrella_globals():
    defaults = yaml.safe_load((chartlib.CHART / "values.yaml").read_text())["global"]
    return chartlib.deep_merge(defaults, chartlib.minimal_values()["global"])


@pytest.mark.parametrize("kube_version", ["v1.27.0", "v1.33.0"])
@pytest.mark.parametrize("name", [None, *SCENARIOS], ids=["chart-defaults", *SCENARIOS])
def test_umbrella_lints_clean(name, kube_version):
    values = SCENARIOS[name] if name else {}
    report = helm_python.lint(
        chartlib.CHART,
        values,
        strict=True,
        namespace=chartlib.NAMESPACE,
        kube_version=kube_version,
    )
    assert report["total_charts_linted"] == 1
    assert not problems(report), problems(report)


@pytest.mark.parametrize("subchart", chartlib.SUBCHARTS)
def test_subchart_lints_clean_with_the_umbrella_globals(subchart):
    values = {"global": umbrella_globals()}
    if subchart == "gateway":
        values["apiKeys"] = {"existingSecret": "spam-platform-api-keys"}
    report = helm_python.lint(
        chartlib.CHART / "charts" / subchart,
        values,
        strict=True,
        namespace=chartlib.NAMESPACE,
        kube_version="v1.27.0",
    )
    assert not problems(report), problems(report)


def test_library_lints_clean():
    report = helm_python.lint(chartlib.LIBRARY, strict=True)
    assert not problems(report), problems(report)


def test_lint_reports_a_schema_violation():
    report = helm_python.lint(chartlib.CHART, {"global": {"environment": "prod"}}, strict=True)
    assert any("/global/environment" in p["error"] for p in problems(report))


@pytest.mark.parametrize("subchart", chartlib.SUBCHARTS)
def test_subchart_alone_fails_with_a_clear_message(subchart):
    with pytest.raises(helm_python.HelmRenderError, match="install charts/spam-platform"):
        chartlib.render({}, chart=chartlib.CHART / "charts" / subchart)
