"""The umbrella renders for every environment file and ci/ scenario; bare defaults refuse to."""

from __future__ import annotations

import helm_python
import pytest

from tests.charts import chartlib
from tests.charts.chartlib import SCENARIOS

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}


def test_there_are_environment_files_and_ci_scenarios():
    assert set(chartlib.ENV_FILES) == {"staging", "production"}
    assert len(chartlib.CI_FILES) >= 5


def test_renders_every_document_as_yaml_with_kind_name_and_namespace(scenario):
    name, values = scenario
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    assert docs, name
    chartlib.by_key(docs)  # no object rendered twice
    for doc in docs:
        assert doc.body.get("apiVersion"), doc.template
        assert doc.body["metadata"].get("name"), doc.template
        if doc.kind not in CLUSTER_SCOPED:
            assert doc.body["metadata"].get("namespace") == chartlib.NAMESPACE, doc.key
        labels = doc.body["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/instance") == chartlib.RELEASE, doc.key
        assert labels.get("app.kubernetes.io/part-of") == "spam-platform", doc.key


def test_renders_tidy_yaml_without_whitespace_only_lines(scenario):
    _, values = scenario
    for template, text in chartlib.render(values).items():
        for number, line in enumerate(text.splitlines(), 1):
            assert line == line.rstrip(), f"{template}:{number} trailing whitespace"


def test_renders_nothing_but_notes_outside_yaml_documents():
    rendered = chartlib.render(chartlib.minimal_values())
    notes = [path for path in rendered if path.endswith("NOTES.txt")]
    assert notes == ["spam-platform/templates/NOTES.txt"]


def test_refuses_bare_defaults_naming_each_missing_installation_setting():
    with pytest.raises(helm_python.HelmRenderError) as err:
        chartlib.render({})
    message = str(err.value)
    for key in (
        "global.storage.accountName: required",
        "global.model.tracks.staging.version: required",
        "global.model.tracks.production.version: required",
    ):
        assert key in message


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ({"gateway": {"apiKeys": {"existingSecret": ""}}}, "gateway.apiKeys.existingSecret"),
        ({"global": {"redis": {"host": ""}}}, "global.redis.host: required"),
        ({"global": {"redis": {"existingSecret": ""}}}, "global.redis.existingSecret"),
        ({"global": {"mlflow": {"trackingUri": ""}}}, "global.mlflow.trackingUri: required"),
    ],
    ids=["api-key-secret", "redis-host", "redis-secret", "mlflow"],
)
def test_refuses_an_empty_required_setting_of_a_component(missing, expected):
    with pytest.raises(helm_python.HelmRenderError, match="invalid values") as err:
        chartlib.render(chartlib.minimal_values(missing))
    assert expected in str(err.value)


def test_renders_the_full_platform_by_default():
    found = chartlib.kinds(chartlib.render_docs(chartlib.minimal_values()))
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "ServiceAccount",
        "InferenceService",
        "RayCluster",
        "Role",
        "RoleBinding",
        "Pod",
    } <= found


def test_renders_no_batch_objects_when_batch_is_disabled():
    docs = chartlib.render_docs(SCENARIOS["ci/02-batch-disabled-values.yaml"])
    assert not {"RayCluster", "Role", "RoleBinding"} & chartlib.kinds(docs)
    assert not [d for d in docs if d.name.endswith("-batch-rayjob")]
    gateway = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"]
    assert gateway["SPAM_GATEWAY_BATCH_BACKEND"] == "none"
    assert "SPAM_GATEWAY_BATCH_RAYJOB_TEMPLATE" not in gateway


def test_renders_only_the_inference_services_when_the_rest_is_off():
    docs = chartlib.render_docs(SCENARIOS["ci/06-inference-only-values.yaml"])
    workloads = {d.kind for d in docs if not d.is_test_hook}
    assert workloads == {"InferenceService", "ServiceAccount"}


def test_notes_tell_how_to_call_predict_and_run_the_tests():
    notes = chartlib.render(chartlib.env_values("production"))["spam-platform/templates/NOTES.txt"]
    assert "curl" in notes
    assert '"$SPAM_URL/predict"' in notes
    assert "X-API-Key" in notes
    assert "helm test spam-platform" in notes
    assert "https://spam-api.example.com" in notes
    assert "global.model.tracks.production.version=<N>" in notes


def test_a_client_dry_run_install_passes_the_kube_version_and_schema_checks():
    config = helm_python.Config(namespace=chartlib.NAMESPACE, storage_driver="memory")
    try:
        summary = config.install(
            chartlib.CHART, chartlib.RELEASE, chartlib.env_values("production"), dry_run="client"
        )
    finally:
        config.close()
    assert summary["chart_name"] == "spam-platform"
    assert "kind: InferenceService" in summary["manifest"]
    assert "helm test spam-platform" in summary["notes"]
