"""drift subchart: cronjob.yaml, networkpolicy.yaml, prometheusrule.yaml,
configmap-dashboard.yaml, serviceaccount.yaml."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.charts import chartlib
from tests.charts.exported import exported_metric_names

ON = {"drift": {"enabled": True}}
FULL = "07-drift-monitoring-values.yaml"


def docs_for(*overrides, api_versions=()):
    return chartlib.render_docs(chartlib.minimal_values(ON, *overrides), api_versions=api_versions)


def cronjobs(docs):
    """The drift chart's CronJobs (the gateway's materialize CronJob is not one of them)."""
    return {d.name: d.body for d in docs if d.kind == "CronJob" and "/drift/" in d.template}


def drift_container(cronjob):
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec, chartlib.container(spec, "drift")


def test_renders_nothing_when_drift_is_disabled():
    docs = chartlib.render_docs(chartlib.minimal_values())
    assert not [d for d in docs if "/charts/drift/" in d.template]


def test_renders_one_cronjob_per_track_hourly_by_default():
    jobs = cronjobs(docs_for())
    assert set(jobs) == {"spam-platform-drift-staging", "spam-platform-drift-production"}
    for track in ("staging", "production"):
        job = jobs[f"spam-platform-drift-{track}"]
        assert job["apiVersion"] == "batch/v1"
        spec = job["spec"]
        assert re.fullmatch(r"\d+ \* \* \* \*", spec["schedule"])  # hourly
        assert spec["timeZone"] == "Etc/UTC"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
        assert spec["startingDeadlineSeconds"] == 600
        job_spec = spec["jobTemplate"]["spec"]
        assert job_spec["activeDeadlineSeconds"] == 1800 and job_spec["backoffLimit"] == 1
        assert job_spec["ttlSecondsAfterFinished"] == 86400
        pod, container = drift_container(job)
        assert pod["restartPolicy"] == "Never"
        assert container["image"] == "spam-platform/drift:0.2.0"
        assert f"--environment={track}" in container["args"] and "--since=1h" in container["args"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["SPAM_DRIFT_INFERENCE_LOG_URL"] == "abfs://logs/inference-logs"
        assert env["SPAM_DRIFT_REPORTS_URL"] == "abfs://logs/drift-reports"
        assert env["SPAM_DRIFT_MODEL_REF_TEMPLATE"] == "models:/spam-detector/{version}"
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.spam-ci.svc.cluster.local:5000"
        assert env["AZURE_STORAGE_ACCOUNT_NAME"] == "stspamci"
        assert "SPAM_DRIFT_WEBHOOK_URL_FILE" not in env and "SPAM_DRIFT_PUSHGATEWAY_URL" not in env


def test_the_gateway_reads_the_reports_where_the_cronjobs_write_them():
    docs = docs_for()
    gateway = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"]
    _, container = drift_container(cronjobs(docs)["spam-platform-drift-staging"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert gateway["SPAM_GATEWAY_DRIFT_REPORTS_URL"] == env["SPAM_DRIFT_REPORTS_URL"]


def test_renders_per_track_schedules_windows_and_a_disabled_track():
    jobs = cronjobs(
        docs_for(
            {
                "drift": {
                    "environments": {
                        "staging": {"enabled": False},
                        "production": {"schedule": "*/30 * * * *", "since": "30m"},
                    }
                }
            }
        )
    )
    assert list(jobs) == ["spam-platform-drift-production"]
    job = jobs["spam-platform-drift-production"]
    assert job["spec"]["schedule"] == "*/30 * * * *"
    assert "--since=30m" in drift_container(job)[1]["args"]


def test_the_thresholds_reach_the_job_as_options():
    job = cronjobs(docs_for({"drift": {"thresholds": {"psi": 0.25, "minRows": 1000}}}))[
        "spam-platform-drift-production"
    ]
    _, container = drift_container(job)
    assert "--psi-threshold=0.25" in container["args"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SPAM_DRIFT_MIN_ROWS"] == "1000"


def test_runs_restricted_with_workload_identity_and_no_api_token():
    docs = chartlib.render_docs(chartlib.ci_values(FULL))
    job = cronjobs(docs)["spam-platform-drift-production"]
    pod, container = drift_container(job)
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "spam-platform-drift"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"
    account = chartlib.only(docs, "ServiceAccount", "spam-platform-drift").body
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == (
        "11111111-2222-3333-4444-555555555555"
    )


def test_the_webhook_url_comes_from_the_existing_secret_as_a_file():
    docs = chartlib.render_docs(chartlib.ci_values(FULL))
    pod, container = drift_container(cronjobs(docs)["spam-platform-drift-staging"])
    env = {e["name"]: e for e in container["env"]}
    assert not any("valueFrom" in e for e in env.values())  # no secret in the environment
    path = env["SPAM_DRIFT_WEBHOOK_URL_FILE"]["value"]
    assert env["SPAM_DRIFT_WEBHOOK_FORMAT"]["value"] == "slack"
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "webhook"]
    assert path == f"{mount['mountPath']}/url" and mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == "webhook"]
    assert volume["secret"]["secretName"] == "spam-platform-drift-webhook"
    assert volume["secret"]["items"] == [{"key": "url", "path": "url"}]
    assert "Secret" not in chartlib.kinds(docs)


def _egress_ports(policy):
    return {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}


def test_networkpolicy_allows_only_what_a_run_needs():
    docs = chartlib.render_docs(chartlib.ci_values(FULL))
    policy = chartlib.only(docs, "NetworkPolicy", "spam-platform-drift").body
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "drift",
        "app.kubernetes.io/instance": "spam-platform",
    }
    assert policy["spec"]["ingress"] == []
    # Blob + Entra ID, MLflow, Pushgateway, webhook (DNS comes from the release-wide policy)
    assert _egress_ports(policy) == {("TCP", 443), ("TCP", 5000), ("TCP", 9091)}
    peers = [rule["to"] for rule in policy["spec"]["egress"]]
    assert [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlflow"}}}
    ] in peers
    assert [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ] in peers
    # without pushgateway and webhook, neither is open
    minimal = docs_for({"global": {"networkPolicy": {"enabled": True}}})
    policy = chartlib.only(minimal, "NetworkPolicy", "spam-platform-drift").body
    assert _egress_ports(policy) == {("TCP", 443), ("TCP", 5000)}
    assert len(policy["spec"]["egress"]) == 2


def test_prometheusrule_needs_the_monitoring_api():
    values = chartlib.ci_values(FULL)
    without = chartlib.render_docs(values)
    assert "PrometheusRule" not in chartlib.kinds(without)
    with_api = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    rule = chartlib.only(with_api, "PrometheusRule").body
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    disabled = docs_for(api_versions=(chartlib.MONITORING_API,))
    assert "PrometheusRule" not in chartlib.kinds(disabled)


def rules(api=True):
    docs = chartlib.render_docs(
        chartlib.ci_values(FULL), api_versions=(chartlib.MONITORING_API,) if api else ()
    )
    body = chartlib.only(docs, "PrometheusRule").body
    return {r["alert"]: r for g in body["spec"]["groups"] for r in g["rules"]}


def test_prometheusrule_covers_the_platforms_alerts():
    alerts = rules()
    assert set(alerts) >= {
        "SpamPlatformDriftDetected",
        "SpamPlatformDriftJobStale",
        "SpamPlatformGateway5xxRate",
        "SpamPlatformGatewayP99Latency",
        "SpamPlatformInferenceLogSpoolBacklog",
        "SpamPlatformInferenceLogDrops",
        "SpamPlatformTritonNotReady",
        "SpamPlatformBatchJobFailed",
        "SpamPlatformShadowDrops",
        "SpamPlatformShadowFailures",
        "SpamPlatformShadowLogDrops",
    }
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name
    assert (
        "{{ $labels.environment }}" in alerts["SpamPlatformDriftDetected"]["annotations"]["summary"]
    )
    assert "> 0.05" in alerts["SpamPlatformGateway5xxRate"]["expr"]
    assert 'namespace="spam-platform"' in alerts["SpamPlatformGateway5xxRate"]["expr"]
    assert "> 0.1" in alerts["SpamPlatformShadowDrops"]["expr"]
    assert "10%" in alerts["SpamPlatformShadowFailures"]["annotations"]["summary"]


METRIC = re.compile(r"\b((?:spam|kube)_[a-z0-9_]+)\b")


def test_alerts_and_dashboard_use_metrics_the_services_export():
    exported = exported_metric_names()
    kube_state_metrics = {"kube_pod_status_ready", "kube_job_status_failed"}
    used = set()
    for rule in rules().values():
        used |= set(METRIC.findall(rule["expr"]))
    docs = chartlib.render_docs(chartlib.ci_values(FULL))
    dashboard = chartlib.only(docs, "ConfigMap", "spam-platform-dashboard").body
    board = json.loads(dashboard["data"]["spam-platform.json"])
    for panel in board["panels"]:
        for target in panel["targets"]:
            used |= set(METRIC.findall(target["expr"]))
    assert used - exported - kube_state_metrics == set()
    assert {"spam_drift_detected", "spam_gateway_requests_total"} <= used


def test_dashboard_configmap_follows_the_grafana_sidecar_convention():
    docs = chartlib.render_docs(chartlib.ci_values(FULL))
    cm = chartlib.only(docs, "ConfigMap", "spam-platform-dashboard").body
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "spam-platform"
    board = json.loads(cm["data"]["spam-platform.json"])
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for topic in ("requests", "latency", "5xx", "spam rate", "drift score"):
        assert topic in titles, topic
    assert "grafana_dashboard" not in yaml.safe_dump(docs_for()[0].body)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_environment_files_turn_drift_on(env):
    docs = chartlib.render_docs(chartlib.env_values(env), api_versions=(chartlib.MONITORING_API,))
    assert len(cronjobs(docs)) == 2
