"""Prometheus scraping across the chart, in every environment file and ci/ scenario: each
metric an alert or the chart README names is exported by a service, that service has a
ServiceMonitor wherever the alerts render, and its NetworkPolicy lets Prometheus in."""

from __future__ import annotations

import re

import pytest

from tests.charts import chartlib
from tests.charts.exported import exported_metric_names

# metric prefix -> the component that serves it on GET /metrics (the drift job pushes instead)
SCRAPED = {"spam_gateway_": "gateway", "spam_transformer_": "transformer"}
METRIC = re.compile(r"\b(spam_(?:gateway|transformer|drift)_[a-z0-9_]*[a-z0-9])\b")


def scraped_component(metric: str) -> str | None:
    return next((c for prefix, c in SCRAPED.items() if metric.startswith(prefix)), None)


def alert_metrics(docs: list[chartlib.Doc]) -> set[str]:
    used = set()
    for doc in docs:
        if doc.kind == "PrometheusRule":
            for group in doc.body["spec"]["groups"]:
                for rule in group["rules"]:
                    used |= set(METRIC.findall(rule["expr"]))
    return used


COMPONENT_LABEL = {"gateway": "api", "transformer": "features"}
"""app.kubernetes.io/component of each scraped service's objects."""


@pytest.mark.parametrize("component", sorted(SCRAPED.values()))
@pytest.mark.parametrize(
    ("enabled", "api_versions", "rendered"),
    [
        (True, (chartlib.MONITORING_API,), True),
        (True, (), False),
        (False, (chartlib.MONITORING_API,), False),
    ],
    ids=["flag-and-api", "flag-without-api", "api-without-flag"],
)
def test_servicemonitor_needs_the_flag_and_the_prometheus_operator_api(
    component, enabled, api_versions, rendered
):
    docs = chartlib.render_docs(
        chartlib.minimal_values({component: {"metrics": {"serviceMonitor": {"enabled": enabled}}}}),
        api_versions=api_versions,
    )
    monitors = [d.name for d in docs if d.kind == "ServiceMonitor"]
    assert monitors == ([f"spam-platform-{component}"] if rendered else [])


@pytest.mark.parametrize("component", sorted(SCRAPED.values()))
def test_servicemonitor_scrapes_metrics_on_the_port_the_image_serves(component):
    fullname = f"spam-platform-{component}"
    docs = chartlib.render_docs(
        chartlib.ci_values(
            "03-servicemonitor-values.yaml",
            {component: {"metrics": {"serviceMonitor": {"interval": "15s"}}}},
        ),
        api_versions=(chartlib.MONITORING_API,),
    )
    monitor = chartlib.only(docs, "ServiceMonitor", fullname).body
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["metadata"]["labels"]["app.kubernetes.io/component"] == (COMPONENT_LABEL[component])
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "http",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "10s",
    }
    service = chartlib.only(docs, "Service", fullname).body
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [chartlib.NAMESPACE]}
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    deployment = chartlib.only(docs, "Deployment", fullname).body
    (container_port,) = [
        p
        for p in chartlib.container(deployment["spec"]["template"]["spec"], component)["ports"]
        if p["name"] == port["targetPort"]
    ]
    # the image serves /metrics on SPAM_<COMPONENT>_PORT, set in its Dockerfile only
    variable = f"SPAM_{component.upper()}_PORT"
    dockerfile = (chartlib.REPO / "images" / component / "Dockerfile").read_text()
    assert f"{variable}={container_port['containerPort']}" in dockerfile
    assert variable not in chartlib.only(docs, "ConfigMap", fullname).body["data"]


@pytest.mark.parametrize("component", sorted(SCRAPED.values()))
def test_notes_warn_when_a_servicemonitor_cannot_be_created(component):
    other = next(c for c in SCRAPED.values() if c != component)
    values = chartlib.minimal_values(
        {component: {"metrics": {"serviceMonitor": {"enabled": True}}}}
    )
    notes = chartlib.render(values)["spam-platform/templates/NOTES.txt"]
    assert f"{component}.metrics.serviceMonitor.enabled is true" in notes
    assert f"no ServiceMonitor was created for the {component}" in notes
    assert f"{other}.metrics.serviceMonitor.enabled" not in notes
    with_api = chartlib.render(values, api_versions=(chartlib.MONITORING_API,))
    assert "no ServiceMonitor was created" not in with_api["spam-platform/templates/NOTES.txt"]


def test_every_alerted_service_metric_is_scraped(scenario):
    name, values = scenario
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    monitors = {d.name for d in docs if d.kind == "ServiceMonitor"}
    for metric in alert_metrics(docs):
        component = scraped_component(metric)
        if component:
            assert f"spam-platform-{component}" in monitors, (name, metric)


def test_the_production_environment_scrapes_gateway_and_transformer():
    docs = chartlib.render_docs(
        chartlib.env_values("production"), api_versions=(chartlib.MONITORING_API,)
    )
    assert {d.name for d in docs if d.kind == "ServiceMonitor"} == {
        "spam-platform-gateway",
        "spam-platform-transformer",
    }
    assert "spam_transformer_reputation_store_up" in alert_metrics(docs)


@pytest.mark.parametrize("component", sorted(SCRAPED.values()))
def test_prometheus_may_scrape_where_a_servicemonitor_points(scenario, component):
    name, values = scenario
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    fullname = f"spam-platform-{component}"
    monitors = [d for d in docs if d.kind == "ServiceMonitor" and d.name == fullname]
    if not monitors or not chartlib.networkpolicies_on(values):
        return
    service = chartlib.only(docs, "Service", fullname).body
    (endpoint,) = monitors[0].body["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    deployment = chartlib.only(docs, "Deployment", fullname).body
    (container_port,) = [
        p["containerPort"]
        for p in chartlib.container(deployment["spec"]["template"]["spec"], component)["ports"]
        if p["name"] == port["targetPort"]
    ]
    policy = chartlib.only(docs, "NetworkPolicy", fullname).body["spec"]
    allowed = values.get(component, {}).get("networkPolicy", {}).get("monitoringNamespaces")
    allowed = set(allowed or ["monitoring"])
    scrape_rules = [
        rule
        for rule in policy["ingress"]
        if {
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in rule["from"]
            if "namespaceSelector" in p
        }
        == allowed
    ]
    assert scrape_rules, (name, component)
    assert {"protocol": "TCP", "port": container_port} in scrape_rules[0]["ports"], name


def test_the_chart_readme_names_only_exported_metrics():
    readme = (chartlib.CHART / "README.md").read_text()
    named = set(METRIC.findall(readme))  # `spam_drift_*` (a prefix) does not match
    assert "spam_transformer_reputation_store_up" in named
    exported = exported_metric_names()
    # Prometheus Adapter's rule in the README serves `<counter>_total` as `<counter>_per_second`
    adapted = {n.removesuffix("_total") + "_per_second" for n in exported if n.endswith("_total")}
    assert {"spam_gateway_requests_per_second", "spam_transformer_requests_per_second"} <= adapted
    assert named - exported - adapted == set()
