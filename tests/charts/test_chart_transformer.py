"""transformer subchart: configmap.yaml, configmap-feast.yaml, deployment.yaml, service.yaml."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from tests.charts import chartlib

NAME = "spam-platform-transformer"
HOST = "spam-platform-{track}-predictor.spam-platform.svc.cluster.local"


def docs_for(override=None):
    return chartlib.render_docs(chartlib.minimal_values(override or {}))


def settings(override=None):
    return chartlib.only(docs_for(override), "ConfigMap", NAME).body["data"]


def pod(docs):
    return chartlib.only(docs, "Deployment", NAME).body["spec"]["template"]


def test_configmap_renders_the_settings_contract():
    assert settings() == {
        "SPAM_TRANSFORMER_PREDICTOR_STAGING_URL": HOST.format(track="staging") + ":80",
        "SPAM_TRANSFORMER_PREDICTOR_PRODUCTION_URL": HOST.format(track="production") + ":80",
        "SPAM_TRANSFORMER_PROTOCOL": "grpc",
        "SPAM_TRANSFORMER_FEATURES_URI_STAGING": (
            "https://stspamci.blob.core.windows.net/models/spam-detector/v2/features.json"
        ),
        "SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION": (
            "https://stspamci.blob.core.windows.net/models/spam-detector/v1/features.json"
        ),
        "SPAM_TRANSFORMER_MODEL_VERSION_STAGING": "2",
        "SPAM_TRANSFORMER_MODEL_VERSION_PRODUCTION": "1",
        "SPAM_TRANSFORMER_FEAST_REPO_PATH": "/etc/spam-platform/feast",
        "SPAM_TRANSFORMER_REPUTATION_CACHE_TTL_S": "60",
        "SPAM_TRANSFORMER_REPUTATION_CACHE_SIZE": "100000",
        "SPAM_TRANSFORMER_REPUTATION_RETRY_AFTER_S": "5",
    }


@pytest.mark.parametrize(
    ("mode", "protocol", "port"),
    [
        ("Knative", "grpc", 80),
        ("Knative", "http", 80),
        ("Standard", "grpc", 9000),
        ("Standard", "http", 80),
    ],
)
def test_predictor_urls_follow_the_serving_mode_and_protocol(mode, protocol, port):
    override = {
        "global": {"serving": {"deploymentMode": mode, "protocol": protocol}},
        "inference": {"tracks": {"staging": {"minReplicas": 1}}},
    }
    data = settings(override)
    assert data["SPAM_TRANSFORMER_PROTOCOL"] == protocol
    for track in ("staging", "production"):
        url = data[f"SPAM_TRANSFORMER_PREDICTOR_{track.upper()}_URL"]
        assert url == f"{HOST.format(track=track)}:{port}"


def test_predictor_hosts_are_the_services_kserve_creates_for_the_isvcs():
    docs = docs_for()
    data = chartlib.only(docs, "ConfigMap", NAME).body["data"]
    for isvc in (d for d in docs if d.kind == "InferenceService"):
        track = isvc.body["metadata"]["labels"]["spam-platform/track"]
        host = data[f"SPAM_TRANSFORMER_PREDICTOR_{track.upper()}_URL"].rsplit(":", 1)[0]
        assert host == f"{isvc.name}-predictor.{chartlib.NAMESPACE}.svc.cluster.local"


def test_feast_config_uses_redis_with_the_connection_string_from_the_environment():
    docs = docs_for()
    feast = chartlib.only(docs, "ConfigMap", f"{NAME}-feast").body["data"]
    config = yaml.safe_load(feast["feature_store.yaml"])
    assert config["online_store"] == {
        "type": "redis",
        "connection_string": "${SPAM_REDIS_CONNECTION_STRING}",
    }
    assert config["project"] == "spam_platform"
    assert config["registry"]["path"] == (
        "https://stspamci.blob.core.windows.net/datasets/feast/registry.db"
    )
    spec = pod(docs)["spec"]
    main = chartlib.container(spec, "transformer")
    (mount,) = [m for m in main["volumeMounts"] if m["name"] == "feast-repo"]
    assert mount["mountPath"] == settings()["SPAM_TRANSFORMER_FEAST_REPO_PATH"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "feast-repo"]
    assert volume["configMap"]["name"] == f"{NAME}-feast"


FEATURE_STORE_YAML = """\
project: spam_platform
provider: local
registry:
  registry_store_type: AzureRegistryStore
  path: https://stspamci.blob.core.windows.net/datasets/feast/registry.db
online_store:
  type: redis
  connection_string: ${SPAM_REDIS_CONNECTION_STRING}
entity_key_serialization_version: 3
"""


def test_feature_store_yaml_is_rendered_from_global_feast():
    """The exact file the transformer always had, now rendered by spam-common from global.feast."""
    feast = chartlib.only(docs_for(), "ConfigMap", f"{NAME}-feast").body["data"]
    assert feast == {
        "feature_store.yaml": FEATURE_STORE_YAML,
        # for a pod that composes the connection itself (the pipeline's reputation step)
        "redis-connection-string": "redis.spam-ci.svc.cluster.local:6379,"
        "password=$(SPAM_REDIS_PASSWORD),ssl=false,socket_timeout=0.5,socket_connect_timeout=0.5",
    }
    override = {
        "global": {
            "feast": {
                "project": "spam_platform_v2",
                "registryPath": "https://stother.blob.core.windows.net/feast/registry.db",
                "entityKeySerializationVersion": 2,
            }
        }
    }
    feast = chartlib.only(docs_for(override), "ConfigMap", f"{NAME}-feast").body["data"]
    config = yaml.safe_load(feast["feature_store.yaml"])
    assert config["project"] == "spam_platform_v2"
    assert config["registry"]["path"] == "https://stother.blob.core.windows.net/feast/registry.db"
    assert config["entity_key_serialization_version"] == 2


def test_reputation_values_reach_the_configmap():
    data = settings(
        {
            "transformer": {
                "reputation": {"cacheTtlSeconds": 0, "cacheSize": 2000000, "retryAfterSeconds": 0.5}
            }
        }
    )
    assert data["SPAM_TRANSFORMER_REPUTATION_CACHE_TTL_S"] == "0"
    assert data["SPAM_TRANSFORMER_REPUTATION_CACHE_SIZE"] == "2000000"  # not 2e+06
    assert data["SPAM_TRANSFORMER_REPUTATION_RETRY_AFTER_S"] == "0.5"


@pytest.mark.parametrize(
    ("reputation", "expected"),
    [
        ({}, (60.0, 100_000, 5.0)),
        (
            {"cacheTtlSeconds": 0, "cacheSize": 2000000, "retryAfterSeconds": 0.5},
            (0.0, 2_000_000, 0.5),
        ),
        ({"cacheTtlSeconds": 2.5, "cacheSize": 1, "retryAfterSeconds": 30}, (2.5, 1, 30.0)),
    ],
    ids=["defaults", "cache-off", "custom"],
)
def test_the_transformer_settings_load_from_the_rendered_configmap(
    monkeypatch, reputation, expected
):
    """TransformerSettings reads exactly the rendered ConfigMap (FEAST_REPO_PATH is required)."""
    config = pytest.importorskip("spam_transformer.config")
    import os

    for key in list(os.environ):
        if key.startswith("SPAM_TRANSFORMER_"):
            monkeypatch.delenv(key)
    data = settings({"transformer": {"reputation": reputation}})
    fields = set(config.TransformerSettings.model_fields)
    for name, value in data.items():
        assert name.removeprefix("SPAM_TRANSFORMER_") in fields, name
        monkeypatch.setenv(name, value)
    loaded = config.TransformerSettings(_env_file=None)
    assert loaded.FEAST_REPO_PATH == "/etc/spam-platform/feast"
    reputation = (
        loaded.REPUTATION_CACHE_TTL_S,
        loaded.REPUTATION_CACHE_SIZE,
        loaded.REPUTATION_RETRY_AFTER_S,
    )
    assert reputation == expected
    assert loaded.track("production").model_version == "1"
    assert loaded.PROTOCOL == "grpc"
    monkeypatch.delenv("SPAM_TRANSFORMER_FEAST_REPO_PATH")
    with pytest.raises(ValueError, match="FEAST_REPO_PATH"):
        config.TransformerSettings(_env_file=None)


def test_the_transformer_batch_and_gateway_render_the_same_feature_store_yaml(scenario):
    name, values = scenario
    docs = chartlib.render_docs(values)
    files = {
        d.name: d.body["data"]["feature_store.yaml"]
        for d in docs
        if d.kind == "ConfigMap" and "feature_store.yaml" in d.body.get("data", {})
    }
    enabled = [c for c in ("transformer", "batch") if values.get(c, {}).get("enabled", True)]
    gateway = values.get("gateway", {})
    if gateway.get("enabled", True) and gateway.get("feedback", {}).get("enabled", False):
        enabled.append("gateway")  # user feedback updates the same online store
    assert sorted(files) == sorted(f"spam-platform-{c}-feast" for c in enabled), name
    assert len(set(files.values())) <= 1, name


def test_redis_connection_string_takes_the_password_from_the_existing_secret():
    main = chartlib.container(pod(docs_for())["spec"], "transformer")
    env = {e["name"]: e for e in main["env"]}
    assert env["SPAM_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "spam-platform-redis",
        "key": "redis-password",
    }
    assert env["SPAM_REDIS_CONNECTION_STRING"]["value"] == (
        "redis.spam-ci.svc.cluster.local:6379,password=$(SPAM_REDIS_PASSWORD),ssl=false,"
        "socket_timeout=0.5,socket_connect_timeout=0.5"
    )
    names = [e["name"] for e in main["env"]]
    assert names.index("SPAM_REDIS_PASSWORD") < names.index("SPAM_REDIS_CONNECTION_STRING")
    production = chartlib.render_docs(chartlib.env_values("production"))
    main = chartlib.container(pod(production)["spec"], "transformer")
    value = {e["name"]: e for e in main["env"]}["SPAM_REDIS_CONNECTION_STRING"]["value"]
    assert value.startswith("redis-spam-prod.redis.cache.windows.net:6380,")
    assert ",ssl=true," in value and value.endswith(",socket_connect_timeout=0.5")


def test_deployment_checksums_both_configmaps():
    rendered = chartlib.render(chartlib.minimal_values())
    base = "spam-platform/charts/transformer/templates/"
    text = rendered[base + "configmap.yaml"] + rendered[base + "configmap-feast.yaml"]
    checksum = pod(chartlib.parse(rendered))["metadata"]["annotations"]["checksum/config"]
    assert checksum == hashlib.sha256(text.encode()).hexdigest()


def test_deployment_probes_ready_and_health():
    main = chartlib.container(pod(docs_for())["spec"], "transformer")
    assert main["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert main["envFrom"] == [{"configMapRef": {"name": NAME}}]


def test_service_listens_where_the_gateway_calls():
    docs = docs_for()
    service = chartlib.only(docs, "Service", NAME).body
    assert service["spec"]["ports"][0]["port"] == 8080
    url = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"][
        "SPAM_GATEWAY_TRANSFORMER_URL"
    ]
    assert url == f"http://{NAME}.{chartlib.NAMESPACE}.svc.cluster.local:8080"
