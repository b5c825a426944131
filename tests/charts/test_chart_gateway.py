"""gateway subchart: one suite per template (configmap, deployment, service, ingress,
virtualservice, tests/; the ServiceMonitor: test_chart_monitoring.py)."""

from __future__ import annotations

import hashlib

import pytest

from tests.charts import chartlib

NAME = "spam-platform-gateway"


def docs_for(override=None, **kw):
    return chartlib.render_docs(chartlib.minimal_values(override or {}), **kw)


def gateway_pod(docs):
    return chartlib.only(docs, "Deployment", NAME).body["spec"]["template"]


# ------------------------------------------------------------------ configmap.yaml


DATASETS = chartlib.minimal_values()["global"]["storage"].get("datasetsContainer", "datasets")


def test_configmap_renders_the_settings_contract_from_globals():
    data = chartlib.only(docs_for(), "ConfigMap", NAME).body["data"]
    assert data == {
        "SPAM_GATEWAY_TRANSFORMER_URL": "http://spam-platform-transformer.spam-platform.svc.cluster.local:8080",
        "SPAM_GATEWAY_DEFAULT_ENVIRONMENT": "staging",
        "SPAM_GATEWAY_MODEL_NAME": "spam-detector",
        "SPAM_GATEWAY_MODEL_VERSION_STAGING": "2",
        "SPAM_GATEWAY_MODEL_VERSION_PRODUCTION": "1",
        "SPAM_GATEWAY_API_KEYS_FILE": "/var/run/secrets/spam-platform/api-keys/api-keys.json",
        "SPAM_GATEWAY_BODY_TIMEOUT_S": "10",
        "SPAM_GATEWAY_AUTH_FAILURES_PER_CLIENT": "20/minute",
        "SPAM_GATEWAY_QUOTA_VIEWER": "",
        "SPAM_GATEWAY_QUOTA_REPORTER": "",
        "SPAM_GATEWAY_QUOTA_OPERATOR": "",
        "SPAM_GATEWAY_CORS_ALLOW_ORIGINS": "[]",
        "SPAM_GATEWAY_CORS_ALLOW_CREDENTIALS": "false",
        "SPAM_GATEWAY_CORS_MAX_AGE_S": "600",
        "SPAM_GATEWAY_INFERENCE_LOG_URL": "abfs://logs/inference-logs",
        "SPAM_GATEWAY_DRIFT_REPORTS_URL": "abfs://logs/drift-reports",
        "SPAM_GATEWAY_BATCH_BACKEND": "rayjob",
        "SPAM_GATEWAY_BATCH_NAMESPACE": chartlib.NAMESPACE,
        "SPAM_GATEWAY_BATCH_RAYJOB_TEMPLATE": "/etc/spam-platform/batch/rayjob.yaml",
        "SPAM_GATEWAY_BATCH_STATUS_URL": f"abfs://{DATASETS}/batch/status",
        "SPAM_GATEWAY_BATCH_OUTPUT_URL": f"abfs://{DATASETS}/batch/output",
        "SPAM_GATEWAY_BATCH_INPUT_ROOTS": f'["abfs://{DATASETS}/batch/input"]',
        "SPAM_GATEWAY_BATCH_OUTPUT_ROOTS": f'["abfs://{DATASETS}/batch/output"]',
        "SPAM_GATEWAY_SHADOW_ENABLED": "false",
        "AZURE_STORAGE_ACCOUNT_NAME": "stspamci",
    }


def test_configmap_renders_the_abuse_limits_when_set():
    limits = {"authFailuresPerClient": "5/minute", "quotas": {"viewer": "600/minute"}}
    data = chartlib.only(docs_for({"gateway": {"limits": limits}}), "ConfigMap", NAME).body["data"]
    assert data["SPAM_GATEWAY_AUTH_FAILURES_PER_CLIENT"] == "5/minute"
    assert data["SPAM_GATEWAY_QUOTA_VIEWER"] == "600/minute"
    assert data["SPAM_GATEWAY_QUOTA_OPERATOR"] == ""


def test_an_empty_auth_failure_limit_renders_off_and_turns_the_throttle_off(monkeypatch):
    """An empty variable counts as unset in the gateway (its 20/minute default would apply):
    the chart renders `off`, which the gateway reads as off."""
    from spam_gateway.app.core.config import Settings
    from tests.utils.gateway import API_KEYS_JSON

    limits = {"authFailuresPerClient": ""}
    data = chartlib.only(docs_for({"gateway": {"limits": limits}}), "ConfigMap", NAME).body["data"]
    assert data["SPAM_GATEWAY_AUTH_FAILURES_PER_CLIENT"] == "off"
    monkeypatch.setenv("SPAM_GATEWAY_AUTH_FAILURES_PER_CLIENT", "off")
    assert Settings(_env_file=None, API_KEYS=API_KEYS_JSON).AUTH_FAILURES_PER_CLIENT == ""
    monkeypatch.setenv("SPAM_GATEWAY_AUTH_FAILURES_PER_CLIENT", "")
    assert Settings(_env_file=None, API_KEYS=API_KEYS_JSON).AUTH_FAILURES_PER_CLIENT == "20/minute"


def test_configmap_renders_the_allowed_batch_locations_when_set():
    roots = ["abfs://archive/exports", "/mnt/mail"]
    data = chartlib.only(
        docs_for({"gateway": {"asyncBatch": {"allowedInputs": roots}}}), "ConfigMap", NAME
    ).body["data"]
    assert data["SPAM_GATEWAY_BATCH_INPUT_ROOTS"] == '["abfs://archive/exports","/mnt/mail"]'


def test_configmap_renders_cors_off_by_default(monkeypatch):
    from spam_gateway.app.core.config import Settings
    from tests.utils.gateway import API_KEYS_JSON

    data = chartlib.only(docs_for(), "ConfigMap", NAME).body["data"]
    assert data["SPAM_GATEWAY_CORS_ALLOW_ORIGINS"] == "[]"
    monkeypatch.setenv("SPAM_GATEWAY_CORS_ALLOW_ORIGINS", data["SPAM_GATEWAY_CORS_ALLOW_ORIGINS"])
    loaded = Settings(_env_file=None, API_KEYS=API_KEYS_JSON)
    assert loaded.CORS_ALLOW_ORIGINS == []  # the gateway's default: no CORS middleware


def test_configmap_renders_the_cors_allow_list_when_set():
    cors = {
        "allowedOrigins": ["https://mail.example.com", "http://[::1]:3000"],
        "maxAgeSeconds": 60,
    }
    data = chartlib.only(docs_for({"gateway": {"cors": cors}}), "ConfigMap", NAME).body["data"]
    assert (
        data["SPAM_GATEWAY_CORS_ALLOW_ORIGINS"]
        == '["https://mail.example.com","http://[::1]:3000"]'
    )
    assert data["SPAM_GATEWAY_CORS_ALLOW_CREDENTIALS"] == "false"
    assert data["SPAM_GATEWAY_CORS_MAX_AGE_S"] == "60"


def test_the_rendered_cors_settings_load_in_the_gateway(monkeypatch):
    """What the chart renders is what the gateway's settings accept (and would refuse)."""
    from spam_gateway.app.core.config import Settings
    from tests.utils.gateway import API_KEYS_JSON

    cors = {"allowedOrigins": ["https://mail.example.com"], "allowCredentials": True}
    data = chartlib.only(docs_for({"gateway": {"cors": cors}}), "ConfigMap", NAME).body["data"]
    for name in ("CORS_ALLOW_ORIGINS", "CORS_ALLOW_CREDENTIALS", "CORS_MAX_AGE_S"):
        monkeypatch.setenv(f"SPAM_GATEWAY_{name}", data[f"SPAM_GATEWAY_{name}"])
    s = Settings(_env_file=None, API_KEYS=API_KEYS_JSON)
    assert (s.CORS_ALLOW_ORIGINS, s.CORS_ALLOW_CREDENTIALS, s.CORS_MAX_AGE_S) == (
        ["https://mail.example.com"],
        True,
        600,
    )


def test_configmap_renders_shadow_scoring_when_enabled(monkeypatch):
    """The `gateway.shadow` values become the SPAM_GATEWAY_SHADOW_* settings the gateway loads;
    the log defaults to the logs container, next to the inference log."""
    from spam_gateway.app.core.config import Settings
    from tests.utils.gateway import API_KEYS_JSON

    shadow = {"enabled": True, "sampleRate": 0.25, "maxInflight": 3, "timeoutSeconds": 1.5}
    data = chartlib.only(docs_for({"gateway": {"shadow": shadow}}), "ConfigMap", NAME).body["data"]
    rendered = {k: v for k, v in data.items() if k.startswith("SPAM_GATEWAY_SHADOW_")}
    assert rendered == {
        "SPAM_GATEWAY_SHADOW_ENABLED": "true",
        "SPAM_GATEWAY_SHADOW_SAMPLE_RATE": "0.25",
        "SPAM_GATEWAY_SHADOW_MAX_INFLIGHT": "3",
        "SPAM_GATEWAY_SHADOW_MAX_PENDING": "1000",
        "SPAM_GATEWAY_SHADOW_MAX_PENDING_MB": "64",
        "SPAM_GATEWAY_SHADOW_TIMEOUT_S": "1.5",
        "SPAM_GATEWAY_SHADOW_LOG_URL": "abfs://logs/shadow-logs",
        "SPAM_GATEWAY_SHADOW_LOG_SPOOL_DIR": "/tmp/spam-gateway/shadow-spool",
    }
    for name, value in rendered.items():
        monkeypatch.setenv(name, value)
    s = Settings(_env_file=None, API_KEYS=API_KEYS_JSON)
    assert (s.SHADOW_ENABLED, s.SHADOW_SAMPLE_RATE, s.SHADOW_MAX_INFLIGHT) == (True, 0.25, 3)
    assert (s.SHADOW_TIMEOUT_S, s.SHADOW_LOG_URL) == (1.5, "abfs://logs/shadow-logs")


@pytest.mark.parametrize("shadow", [{"sampleRate": 1.5}, {"maxInflight": 0}, {"logUrl": "x"}])
def test_the_schema_refuses_shadow_values_out_of_range(shadow):
    import helm_python

    with pytest.raises(helm_python.HelmValuesError, match="at '/shadow/"):
        docs_for({"gateway": {"shadow": shadow}})


def test_configmap_uses_the_explicit_default_track_when_set():
    data = chartlib.only(
        docs_for({"gateway": {"defaultEnvironment": "production"}}), "ConfigMap", NAME
    )
    assert data.body["data"]["SPAM_GATEWAY_DEFAULT_ENVIRONMENT"] == "production"


# ------------------------------------------------------------------ deployment.yaml


def test_deployment_rolls_when_its_configmap_changes():
    rendered = chartlib.render(chartlib.minimal_values())
    text = rendered["spam-platform/charts/gateway/templates/configmap.yaml"]
    pod = gateway_pod(chartlib.parse(rendered))
    assert (
        pod["metadata"]["annotations"]["checksum/config"]
        == hashlib.sha256(text.encode()).hexdigest()
    )


def test_deployment_reads_the_configmap_and_mounts_the_files_it_names():
    docs = docs_for()
    data = chartlib.only(docs, "ConfigMap", NAME).body["data"]
    spec = gateway_pod(docs)["spec"]
    main = chartlib.container(spec, "gateway")
    assert main["envFrom"] == [{"configMapRef": {"name": NAME}}]
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert f"{mounts['api-keys']}/api-keys.json" == data["SPAM_GATEWAY_API_KEYS_FILE"]
    assert volumes["api-keys"]["secret"]["secretName"] == "spam-platform-api-keys"
    assert volumes["api-keys"]["secret"]["items"] == [
        {"key": "api-keys.json", "path": "api-keys.json"}
    ]
    assert f"{mounts['rayjob-template']}/rayjob.yaml" == data["SPAM_GATEWAY_BATCH_RAYJOB_TEMPLATE"]
    template_cm = volumes["rayjob-template"]["configMap"]["name"]
    rayjob_cm = chartlib.only(docs, "ConfigMap", template_cm).body
    assert "rayjob.yaml" in rayjob_cm["data"]


def test_deployment_probes_the_real_endpoints_on_port_8080():
    main = chartlib.container(gateway_pod(docs_for())["spec"], "gateway")
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    custom = docs_for({"gateway": {"readinessProbe": {"path": "/ready"}}})
    assert (
        chartlib.container(gateway_pod(custom)["spec"], "gateway")["readinessProbe"]["httpGet"][
            "path"
        ]
        == "/ready"
    )


def test_deployment_selects_by_name_and_instance_only():
    deployment = chartlib.only(docs_for(), "Deployment", NAME).body
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "gateway",
        "app.kubernetes.io/instance": chartlib.RELEASE,
    }


def test_deployment_uses_global_registry_tag_and_pull_secrets():
    override = {
        "global": {
            "imageRegistry": "cr.example.io",
            "imageTag": "1.2.3",
            "imagePullSecrets": ["pull"],
        }
    }
    spec = gateway_pod(docs_for(override))["spec"]
    assert (
        chartlib.container(spec, "gateway")["image"] == "cr.example.io/spam-platform/gateway:1.2.3"
    )
    assert spec["imagePullSecrets"] == [{"name": "pull"}]
    digest = "sha256:" + "a" * 64
    spec = gateway_pod(docs_for({"gateway": {"image": {"digest": digest}}}))["spec"]
    assert chartlib.container(spec, "gateway")["image"] == f"spam-platform/gateway@{digest}"


def test_deployment_opts_into_workload_identity_with_a_client_id():
    client_id = "00000000-0000-0000-0000-000000000001"
    docs = docs_for({"global": {"azure": {"workloadIdentity": {"clientId": client_id}}}})
    assert gateway_pod(docs)["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    account = chartlib.only(docs, "ServiceAccount", NAME).body
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == client_id
    assert "azure.workload.identity/use" not in gateway_pod(docs_for())["metadata"]["labels"]


# ------------------------------------------------------------------ service, hpa, pdb


def test_service_targets_the_gateway_pods():
    docs = docs_for({"gateway": {"service": {"port": 8443}}})
    service = chartlib.only(docs, "Service", NAME).body
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8443, "targetPort": "http", "protocol": "TCP"}
    ]
    assert (
        service["spec"]["selector"]
        == chartlib.only(docs, "Deployment", NAME).body["spec"]["selector"]["matchLabels"]
    )


def test_pdb_uses_max_unavailable_when_set():
    docs = docs_for({"gateway": {"pdb": {"create": True, "minAvailable": "", "maxUnavailable": 1}}})
    assert chartlib.only(docs, "PodDisruptionBudget", NAME).body["spec"]["maxUnavailable"] == 1


# ---------------------------------------------------- ingress.yaml / virtualservice.yaml


def test_no_ingress_or_virtualservice_by_default():
    assert not {"Ingress", "VirtualService"} & chartlib.kinds(docs_for())


def test_ingress_routes_the_host_to_the_service():
    docs = docs_for(
        {"gateway": {"ingress": {"enabled": True, "host": "a.example.com", "className": "nginx"}}}
    )
    ingress = chartlib.only(docs, "Ingress", NAME).body
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "a.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": NAME,
        "port": {"name": "http"},
    }
    assert "tls" not in ingress["spec"]


def test_virtualservice_binds_existing_gateways_when_the_chart_creates_none():
    docs = chartlib.render_docs(chartlib.ci_values("04-standard-http-values.yaml"))
    vs = chartlib.only(docs, "VirtualService", NAME).body
    assert vs["apiVersion"] == "networking.istio.io/v1"
    assert vs["spec"]["hosts"] == ["spam-api.ci.example.com"]
    assert vs["spec"]["gateways"] == ["istio-ingress/public"]
    assert not [d for d in docs if d.kind == "Gateway"]
    (route,) = vs["spec"]["http"][0]["route"]
    assert route["destination"] == {
        "host": f"{NAME}.{chartlib.NAMESPACE}.svc.cluster.local",
        "port": {"number": 8080},
    }


# ------------------------------------------------------------------ tests/


def test_test_hooks_are_helm_test_pods_no_service_selects():
    docs = docs_for()
    selector = chartlib.only(docs, "Service", NAME).body["spec"]["selector"]
    pods = [d for d in docs if d.kind == "Pod" and d.name.startswith(NAME)]
    assert {d.name for d in pods} == {f"{NAME}-test-ready", f"{NAME}-test-predict"}
    for pod in pods:
        assert pod.annotations["helm.sh/hook"] == "test"
        assert pod.body["spec"]["restartPolicy"] == "Never"
        assert not selector.items() <= pod.body["metadata"]["labels"].items()


def test_ready_hook_calls_the_gateway_ready_endpoint():
    pod = chartlib.only(docs_for(), "Pod", f"{NAME}-test-ready").body
    script = pod["spec"]["containers"][0]["command"][-1]
    assert f"http://{NAME}.{chartlib.NAMESPACE}.svc.cluster.local:8080/ready" in script
    assert "--fail" in script


def test_predict_hook_posts_one_email_with_the_key_from_the_existing_secret():
    pod = chartlib.only(docs_for(), "Pod", f"{NAME}-test-predict").body
    spec = pod["spec"]
    script = spec["containers"][0]["command"][-1]
    assert f"{NAME}.{chartlib.NAMESPACE}.svc.cluster.local:8080/predict" in script
    assert '-H "X-API-Key: ${KEY}"' in script
    assert 'KEY="$(cat /var/run/secrets/spam-platform/test-api-key/key)"' in script
    assert "grep -q '\"prediction\"'" in script
    (volume,) = [v for v in spec["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "spam-platform-api-keys"
    assert volume["secret"]["items"] == [{"key": "test-api-key", "path": "key"}]
    assert "env" not in spec["containers"][0]  # the key never sits in the environment
