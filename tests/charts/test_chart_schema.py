"""values.schema.json rejects bad values with readable messages, for every chart of the tree."""

from __future__ import annotations

import helm_python
import pytest

from tests.charts import chartlib
from tests.charts.chartlib import SCENARIOS

# (id, override of the minimal values, chart section of the message, expected message)
BAD_VALUES = [
    (
        "unknown-environment",
        {"global": {"environment": "prod"}},
        "spam-platform",
        "at '/global/environment': value must be one of 'staging', 'production'",
    ),
    (
        "wrong-type",
        {"gateway": {"replicaCount": "2"}},
        "gateway",
        "at '/replicaCount': got string, want integer",
    ),
    (
        "typo-in-subchart",
        {"transformer": {"replicas": 2}},
        "transformer",
        "additional properties 'replicas' not allowed",
    ),
    (
        "typo-in-global",
        {"global": {"storage": {"acountName": "x"}}},
        "spam-platform",
        "additional properties 'acountName' not allowed",
    ),
    (
        "missing-required-key",
        {"gateway": {"apiKeys": None}},
        "gateway",
        "at '': missing property 'apiKeys'",
    ),
    (
        "model-version-not-a-number",
        {"global": {"model": {"tracks": {"production": {"version": "v3"}}}}},
        "spam-platform",
        "'v3' does not match pattern",
    ),
    (
        "invalid-storage-account",
        {"global": {"storage": {"accountName": "St_Spam"}}},
        "spam-platform",
        "at '/global/storage/accountName'",
    ),
    (
        "unknown-resources-preset",
        {"transformer": {"resourcesPreset": "huge"}},
        "transformer",
        "at '/resourcesPreset': value must be one of",
    ),
    (
        "production-scales-to-zero",
        {"inference": {"tracks": {"production": {"minReplicas": 0}}}},
        "inference",
        "at '/tracks/production/minReplicas': minimum: got 0, want 1",
    ),
    (
        "canary-above-100",
        {"inference": {"tracks": {"production": {"canaryTrafficPercent": 150}}}},
        "inference",
        "at '/tracks/production/canaryTrafficPercent'",
    ),
    (
        "privileged-port",
        {"gateway": {"service": {"port": 80}}},
        "gateway",
        "at '/service/port': minimum: got 80, want 1,024",
    ),
    (
        "bad-cidr",
        {"global": {"networkPolicy": {"azureCIDRs": ["storage.azure.com"]}}},
        "spam-platform",
        "at '/global/networkPolicy/azureCIDRs/0'",
    ),
    (
        "ingress-without-host",
        {"gateway": {"ingress": {"enabled": True}}},
        "gateway",
        "at '/ingress/host': minLength: got 0, want 1",
    ),
    (
        "negative-reputation-cache-ttl",
        {"transformer": {"reputation": {"cacheTtlSeconds": -1}}},
        "transformer",
        "at '/reputation/cacheTtlSeconds': minimum: got -1, want 0",
    ),
    (
        "empty-reputation-cache",
        {"transformer": {"reputation": {"cacheSize": 0}}},
        "transformer",
        "at '/reputation/cacheSize': minimum: got 0, want 1",
    ),
    (
        "fractional-reputation-cache-size",
        {"transformer": {"reputation": {"cacheSize": 1.5}}},
        "transformer",
        "at '/reputation/cacheSize': got number, want integer",
    ),
    (
        "zero-reputation-retry",
        {"transformer": {"reputation": {"retryAfterSeconds": 0}}},
        "transformer",
        "at '/reputation/retryAfterSeconds': exclusiveMinimum",
    ),
    (
        "reputation-retry-as-string",
        {"transformer": {"reputation": {"retryAfterSeconds": "5s"}}},
        "transformer",
        "at '/reputation/retryAfterSeconds': got string, want number",
    ),
    (
        "feast-values-moved-to-global",
        {"transformer": {"feast": {"project": "spam_platform"}}},
        "transformer",
        "additional properties 'feast' not allowed",
    ),
    (
        "feast-project-with-dashes",
        {"global": {"feast": {"project": "spam-platform"}}},
        "spam-platform",
        "at '/global/feast/project': 'spam-platform' does not match pattern",
    ),
    (
        "feast-serialization-version-zero",
        {"global": {"feast": {"entityKeySerializationVersion": 0}}},
        "spam-platform",
        "at '/global/feast/entityKeySerializationVersion': minimum: got 0, want 1",
    ),
    (
        "bad-redis-cidr",
        {"global": {"networkPolicy": {"redisCIDRs": ["redis.example.com"]}}},
        "spam-platform",
        "at '/global/networkPolicy/redisCIDRs/0'",
    ),
    (
        "cors-origin-with-a-path",
        {"gateway": {"cors": {"allowedOrigins": ["https://mail.example.com/app"]}}},
        "gateway",
        "at '/cors/allowedOrigins/0': 'https://mail.example.com/app' does not match pattern",
    ),
    # mutually exclusive options
    (
        "cors-wildcard-with-credentials",
        {"gateway": {"cors": {"allowedOrigins": ["*"], "allowCredentials": True}}},
        "gateway",
        "at '/cors/allowedOrigins'",
    ),
    (
        "ingress-and-istio",
        {
            "gateway": {
                "ingress": {"enabled": True, "host": "a.example.com"},
                "istio": {"enabled": True, "hosts": ["a.example.com"]},
            }
        },
        "gateway",
        "at '/istio/enabled': value must be false",
    ),
    (
        "pdb-min-and-max",
        {"gateway": {"pdb": {"create": True, "minAvailable": 1, "maxUnavailable": 1}}},
        "gateway",
        "at '/pdb/maxUnavailable': value must be ''",
    ),
    (
        "runtime-create-and-existing",
        {"inference": {"servingRuntime": {"create": True, "existing": "kserve-tritonserver"}}},
        "inference",
        "at '/servingRuntime/existing': value must be ''",
    ),
    (
        "async-batch-without-batch",
        {"batch": {"enabled": False}},
        "spam-platform",
        "at '/batch/enabled': value must be true",
    ),
    (
        "retrain-on-the-tuning-cluster-without-it",
        {"drift": {"enabled": True, "retrain": {"enabled": True, "kfp": {"tuningCluster": True}}}},
        "spam-platform",
        "at '/tuning/enabled': value must be true",
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
        "drift",
        "at '/retrain/kfp/arguments'",
    ),
]


def section(message: str, chart: str) -> str:
    """The lines of Helm's schema error that belong to one chart."""
    lines, inside = [], False
    for line in message.splitlines():
        if line.endswith(":") and not line.startswith(("-", " ")):
            inside = line[:-1] == chart
        elif inside:
            lines.append(line)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("override", "chart", "expected"),
    [pytest.param(o, c, e, id=i) for i, o, c, e in BAD_VALUES],
)
def test_schema_rejects_bad_values_with_a_readable_message(override, chart, expected):
    with pytest.raises(helm_python.HelmValuesError) as err:
        chartlib.render(chartlib.minimal_values(override))
    message = str(err.value)
    assert "don't meet the specifications of the schema" in message
    assert expected in section(message, chart), message


def test_schema_accepts_every_shipped_values_set():
    for name, values in SCENARIOS.items():
        with helm_python.Chart.load(chartlib.CHART) as chart:
            try:
                chart.validate_schema(values)
            except helm_python.HelmValuesError as err:
                pytest.fail(f"{name}: {err}")


def test_every_chart_of_the_tree_has_a_closed_draft7_schema():
    for chart_dir in [chartlib.CHART, *(chartlib.CHART / "charts" / s for s in chartlib.SUBCHARTS)]:
        with helm_python.Chart.load(chart_dir) as chart:
            schema = chart.schema
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#", chart_dir
        assert schema["additionalProperties"] is False, chart_dir
        if chart_dir != chartlib.CHART:
            assert {"global", "enabled", "spam-common"} <= set(schema["properties"]), chart_dir
