"""What a production installation has that a staging one does not, and the other way round."""

from __future__ import annotations

import pytest

from tests.charts import chartlib

STAGING_PRESET_SMALL = {
    "requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "50Mi"},
    "limits": {"cpu": "750m", "memory": "768Mi", "ephemeral-storage": "2Gi"},
}


@pytest.fixture(scope="module")
def production():
    values = chartlib.env_values("production")
    return values, chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))


@pytest.fixture(scope="module")
def staging():
    values = chartlib.env_values("staging")
    return values, chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))


def deployment_container(docs, component):
    deployment = chartlib.only(docs, "Deployment", f"spam-platform-{component}")
    return deployment, chartlib.container(deployment.body["spec"]["template"]["spec"], component)


@pytest.mark.parametrize("component", ["gateway", "transformer"])
def test_production_autoscales_2_to_10_with_a_disruption_budget(production, component):
    _, docs = production
    hpa = chartlib.only(docs, "HorizontalPodAutoscaler", f"spam-platform-{component}").body
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"spam-platform-{component}"
    pdb = chartlib.only(docs, "PodDisruptionBudget", f"spam-platform-{component}").body
    assert pdb["spec"]["minAvailable"] == 1
    deployment, _ = deployment_container(docs, component)
    assert "replicas" not in deployment.body["spec"]  # the HPA owns it
    assert (
        pdb["spec"]["selector"]["matchLabels"] == deployment.body["spec"]["selector"]["matchLabels"]
    )


@pytest.mark.parametrize("component", ["gateway", "transformer"])
def test_staging_autoscales_1_to_3_without_a_disruption_budget(staging, component):
    _, docs = staging
    hpa = chartlib.only(docs, "HorizontalPodAutoscaler", f"spam-platform-{component}").body
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert not [d for d in docs if d.kind == "PodDisruptionBudget"]
    deployment, _ = deployment_container(docs, component)
    assert "replicas" not in deployment.body["spec"]


def test_production_has_network_policies_and_staging_has_none(production, staging):
    assert len([d for d in production[1] if d.kind == "NetworkPolicy"]) >= 6
    assert not [d for d in staging[1] if d.kind == "NetworkPolicy"]


@pytest.mark.parametrize("component", ["gateway", "transformer"])
def test_production_sets_resources_explicitly(production, component):
    values, docs = production
    _, main = deployment_container(docs, component)
    assert main["resources"] == values[component]["resources"]


def test_production_sets_the_resources_of_every_workload(production):
    values, docs = production
    for track in ("staging", "production"):
        isvc = chartlib.only(docs, "InferenceService", f"spam-platform-{track}").body
        expected = values["inference"]["tracks"][track]["resources"]
        assert isvc["spec"]["predictor"]["model"]["resources"] == expected
    ray = chartlib.only(docs, "RayCluster", "spam-platform-batch").body["spec"]
    head = ray["headGroupSpec"]["template"]["spec"]["containers"][0]
    worker = ray["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert head["resources"] == values["batch"]["head"]["resources"]
    assert worker["resources"] == values["batch"]["workers"]["resources"]


@pytest.mark.parametrize("component", ["gateway", "transformer"])
def test_staging_uses_resource_presets(staging, component):
    _, docs = staging
    _, main = deployment_container(docs, component)
    assert main["resources"] == STAGING_PRESET_SMALL


@pytest.mark.parametrize("component", ["gateway", "transformer"])
def test_production_spreads_pods_over_zones_and_nodes(production, component):
    deployment, _ = deployment_container(production[1], component)
    spec = deployment.body["spec"]
    constraints = spec["template"]["spec"]["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in constraints] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    for constraint in constraints:
        assert constraint["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_staging_does_not_spread_pods(staging):
    deployment, _ = deployment_container(staging[1], "gateway")
    assert "topologySpreadConstraints" not in deployment.body["spec"]["template"]["spec"]


def test_the_production_predictor_spreads_over_zones(production):
    isvc = chartlib.only(production[1], "InferenceService", "spam-platform-production").body
    (constraint,) = isvc["spec"]["predictor"]["topologySpreadConstraints"]
    assert constraint["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "inference",
        "app.kubernetes.io/instance": chartlib.RELEASE,
        "app.kubernetes.io/component": "predictor",
        "spam-platform/track": "production",
    }
    assert (
        isvc["spec"]["predictor"]["labels"].items()
        >= constraint["labelSelector"]["matchLabels"].items()
    )


def test_each_environment_has_its_own_api_host():
    staging = chartlib.render_docs(chartlib.env_values("staging"))
    ingress = chartlib.only(staging, "Ingress").body
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["spam-api.staging.example.com"]
    assert ingress["spec"]["tls"][0]["hosts"] == ["spam-api.staging.example.com"]
    production = chartlib.render_docs(chartlib.env_values("production"))
    assert chartlib.only(production, "VirtualService").body["spec"]["hosts"] == [
        "spam-api.example.com"
    ]
    (https, _) = chartlib.only(production, "Gateway").body["spec"]["servers"]
    assert https["hosts"] == ["spam-api.example.com"]


@pytest.mark.parametrize("env", ["production", "staging"])
def test_the_environment_labels_everything_and_is_the_default_track(env):
    docs = chartlib.render_docs(chartlib.env_values(env))
    for doc in docs:
        assert doc.body["metadata"]["labels"]["spam-platform/environment"] == env, doc.key
    config = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"]
    assert config["SPAM_GATEWAY_DEFAULT_ENVIRONMENT"] == env


@pytest.mark.parametrize("env", ["production", "staging"])
def test_both_installations_serve_both_tracks(env):
    docs = chartlib.render_docs(chartlib.env_values(env))
    staging_track = chartlib.only(docs, "InferenceService", "spam-platform-staging").body
    production_track = chartlib.only(docs, "InferenceService", "spam-platform-production").body
    assert staging_track["spec"]["predictor"]["minReplicas"] == 0  # scale to zero
    assert production_track["spec"]["predictor"]["minReplicas"] >= 2


def test_production_scrapes_metrics_where_prometheus_operator_runs(production):
    assert chartlib.only(production[1], "ServiceMonitor", "spam-platform-gateway")
    docs = chartlib.render_docs(chartlib.env_values("production"))  # no monitoring API
    assert "ServiceMonitor" not in chartlib.kinds(docs)
