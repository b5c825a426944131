"""The `fail` guards (<chart>.validateValues) hold without the schemas, e.g. with
`helm install --skip-schema-validation`: each one fails the render with its own message."""

from __future__ import annotations

import shutil
from pathlib import Path

import helm_python
import pytest
import yaml

from tests.charts import chartlib

GUARDS = [
    (
        "ingress-and-istio",
        {
            "gateway": {
                "ingress": {"enabled": True, "host": "a.example.com"},
                "istio": {"enabled": True, "hosts": ["a.example.com"]},
            }
        },
        "gateway.ingress.enabled and gateway.istio.enabled are mutually exclusive",
    ),
    (
        "ingress-without-host",
        {"gateway": {"ingress": {"enabled": True}}},
        "gateway.ingress.host: required when gateway.ingress.enabled is true",
    ),
    (
        "istio-without-hosts",
        {"gateway": {"istio": {"enabled": True}}},
        "gateway.istio.hosts: required when gateway.istio.enabled is true",
    ),
    (
        "istio-without-a-gateway",
        {"gateway": {"istio": {"enabled": True, "hosts": ["a"], "gateway": {"create": False}}}},
        "gateway.istio.gateway.existing: required when gateway.istio.gateway.create is false",
    ),
    (
        "gateway-autoscaling-min-above-max",
        {"gateway": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}}},
        "gateway.autoscaling.minReplicas (5) is above autoscaling.maxReplicas (3)",
    ),
    (
        "transformer-autoscaling-min-above-max",
        {"transformer": {"autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 2}}},
        "transformer.autoscaling.minReplicas (4) is above autoscaling.maxReplicas (2)",
    ),
    (
        "ray-autoscaling-min-above-max",
        {"batch": {"autoscaling": {"enabled": True, "minWorkers": 5, "maxWorkers": 2}}},
        "batch.autoscaling.minWorkers (5) is above batch.autoscaling.maxWorkers (2)",
    ),
    (
        "gateway-pdb-min-and-max",
        {"gateway": {"pdb": {"create": True, "minAvailable": 1, "maxUnavailable": 1}}},
        "gateway.pdb.minAvailable and gateway.pdb.maxUnavailable are mutually exclusive",
    ),
    (
        "transformer-pdb-min-and-max",
        {"transformer": {"pdb": {"create": True, "minAvailable": "50%", "maxUnavailable": 1}}},
        "transformer.pdb.minAvailable and transformer.pdb.maxUnavailable are mutually exclusive",
    ),
    (
        "runtime-create-and-existing",
        {"inference": {"servingRuntime": {"create": True, "existing": "kserve-tritonserver"}}},
        "inference.servingRuntime.create and inference.servingRuntime.existing are mutually",
    ),
    (
        "canary-in-standard-mode",
        {
            "global": {"serving": {"deploymentMode": "Standard"}},
            "inference": {
                "tracks": {
                    "staging": {"minReplicas": 1},
                    "production": {"canaryTrafficPercent": 10},
                }
            },
        },
        "inference.tracks.production.canaryTrafficPercent needs global.serving.deploymentMode",
    ),
    (
        "scale-to-zero-in-standard-mode",
        {"global": {"serving": {"deploymentMode": "Standard"}}},
        "inference.tracks.staging.minReplicas=0 (scale to zero) needs",
    ),
    (
        "production-scales-to-zero",
        {"inference": {"tracks": {"production": {"minReplicas": 0}}}},
        "the production track must not scale to zero",
    ),
    (
        "min-above-max",
        {"inference": {"tracks": {"staging": {"minReplicas": 3, "maxReplicas": 2}}}},
        "inference.tracks.staging: minReplicas (3) is above maxReplicas (2)",
    ),
    (
        "async-batch-without-batch",
        {"batch": {"enabled": False}},
        "gateway.asyncBatch.enabled needs batch.enabled",
    ),
    (
        "gateway-without-transformer",
        {"transformer": {"enabled": False}},
        "gateway.enabled needs transformer.enabled",
    ),
    (
        "unknown-environment",
        {"global": {"environment": "prod"}},
        'global.environment: "prod" is not an environment; use staging or production.',
    ),
    (
        "cors-wildcard-with-credentials",
        {"gateway": {"cors": {"allowedOrigins": ["*"], "allowCredentials": True}}},
        'gateway.cors.allowedOrigins "*" with gateway.cors.allowCredentials would let any web '
        "site call the API",
    ),
    (
        "cors-wildcard-among-origins",
        {"gateway": {"cors": {"allowedOrigins": ["*", "https://a.example"]}}},
        'gateway.cors.allowedOrigins: "*" allows every origin; give it alone',
    ),
    (
        "unknown-default-track",
        {"gateway": {"defaultEnvironment": "canary"}},
        'gateway.defaultEnvironment: "canary" is not a model track',
    ),
    (
        "feast-project-empty",
        {"global": {"feast": {"project": ""}}},
        "global.feast.project: required",
    ),
    (
        "batch-without-redis",
        {
            "gateway": {"enabled": False},
            "transformer": {"enabled": False},
            "global": {"redis": {"host": ""}},
        },
        "global.redis.host: required by batch (the Feast online store)",
    ),
    (
        "drift-without-mlflow",
        {
            "global": {"mlflow": {"trackingUri": ""}},
            "batch": {"enabled": False},
            "gateway": {"asyncBatch": {"enabled": False}},
            "drift": {"enabled": True},
        },
        "global.mlflow.trackingUri: required by drift",
    ),
    (
        "drift-without-a-track",
        {
            "drift": {
                "enabled": True,
                "environments": {
                    "staging": {"enabled": False},
                    "production": {"enabled": False},
                },
            }
        },
        "drift.environments: no track enabled",
    ),
    (
        "retrain-on-the-tuning-cluster-without-it",
        {"drift": {"enabled": True, "retrain": {"enabled": True, "kfp": {"tuningCluster": True}}}},
        "drift.retrain.kfp.tuningCluster needs tuning.enabled",
    ),
    (
        "tuning-cluster-and-a-ray-address",
        {
            "tuning": {"enabled": True},
            "drift": {
                "enabled": True,
                "retrain": {
                    "enabled": True,
                    "kfp": {"tuningCluster": True, "arguments": {"ray_address": "ray://x:1"}},
                },
            },
        },
        "drift.retrain.kfp.tuningCluster and drift.retrain.kfp.arguments.ray_address are "
        "mutually exclusive",
    ),
    (
        "tuning-autoscaling-min-above-max",
        {"tuning": {"enabled": True, "autoscaling": {"minWorkers": 5, "maxWorkers": 2}}},
        "tuning.autoscaling.minWorkers (5) is above tuning.autoscaling.maxWorkers (2)",
    ),
    (
        "unknown-resources-preset",
        {"transformer": {"resourcesPreset": "huge"}},
        'resources preset "huge" is not one of: nano, micro, small, medium, large, xlarge, 2xlarge',
    ),
]


@pytest.fixture(scope="module")
def schemaless_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the chart tree without any values.schema.json."""
    copy = tmp_path_factory.mktemp("chart") / "spam-platform"
    shutil.copytree(chartlib.CHART, copy, symlinks=False)
    schemas = list(copy.rglob("values.schema.json"))
    assert len(schemas) == 1 + len(chartlib.SUBCHARTS)
    for schema in schemas:
        schema.unlink()
    return copy


@pytest.mark.parametrize(("override", "expected"), [pytest.param(o, e, id=i) for i, o, e in GUARDS])
def test_guard_fails_the_render_with_its_message(schemaless_chart, override, expected):
    with pytest.raises(helm_python.HelmRenderError) as err:
        chartlib.render(chartlib.minimal_values(override), chart=schemaless_chart)
    assert expected in str(err.value)


def test_schemaless_copy_still_renders_valid_values(schemaless_chart):
    assert chartlib.render_docs(chartlib.minimal_values(), chart=schemaless_chart)


def test_values_without_global_feast_fail_with_a_hint(schemaless_chart, tmp_path):
    """`helm upgrade --reuse-values` from a chart version without global.feast renders with the
    old chart's defaults: the Feast helpers fail with a message instead of a nil pointer."""
    old = tmp_path / "spam-platform"
    shutil.copytree(schemaless_chart, old, symlinks=False)
    defaults = yaml.safe_load((old / "values.yaml").read_text())
    del defaults["global"]["feast"]
    (old / "values.yaml").write_text(yaml.safe_dump(defaults))
    with pytest.raises(helm_python.HelmRenderError) as err:
        chartlib.render(chartlib.minimal_values(), chart=old)
    message = str(err.value)
    assert "global.feast.project: required" in message
    assert "use --reset-then-reuse-values" in message
