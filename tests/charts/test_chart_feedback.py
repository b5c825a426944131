"""gateway subchart, user feedback: configmap-feedback.yaml, configmap-feast.yaml, the
Deployment's feedback wiring, cronjob.yaml (`spam-gateway materialize`),
serviceaccount-materialize.yaml and networkpolicy-feedback.yaml.

The settings the chart renders are checked against the gateway's pydantic settings class
(``spam_gateway.app.core.config``): every name is a field, and loading them gives the values.
"""

from __future__ import annotations

import os
import re

import helm_python
import kubernetes_validate
import pytest

from tests.charts import chartlib
from tests.charts.test_chart_crds import WITHOUT_SHARED_CRD
from tests.charts.test_chart_kubernetes import CUSTOM_GROUPS

GATEWAY = "spam-platform-gateway"
FEEDBACK_CM = "spam-platform-gateway-feedback"
FEAST_CM = "spam-platform-gateway-feast"
MATERIALIZE = "spam-platform-gateway-materialize"
REPO_PATH = "/etc/spam-platform/feast"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
OWN_CLIENT_ID = "33333333-2222-3333-4444-555555555555"
ON = {"gateway": {"feedback": {"enabled": True}}}
OFF = {"gateway": {"feedback": {"enabled": False}}}
# Variables the containers get that are not gateway settings: the Redis password and the
# connection string Feast expands in feature_store.yaml (spam-common.redis.env).
REDIS_ENV = {"SPAM_REDIS_PASSWORD", "SPAM_REDIS_CONNECTION_STRING"}


def docs_for(*overrides, **kw):
    return chartlib.render_docs(chartlib.minimal_values(*overrides), **kw)


def gateway_spec(docs):
    return chartlib.only(docs, "Deployment", GATEWAY).body["spec"]["template"]["spec"]


def cronjob(docs):
    return chartlib.only(docs, "CronJob", MATERIALIZE).body


def cron_spec(docs):
    return cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container_env(docs, spec, name):
    """The environment a container sees: its envFrom ConfigMaps, then its env values
    (valueFrom entries as None)."""
    main = chartlib.container(spec, name)
    env: dict[str, str | None] = {}
    for source in main.get("envFrom", []):
        env.update(chartlib.only(docs, "ConfigMap", source["configMapRef"]["name"]).body["data"])
    for item in main.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def settings_env(monkeypatch, env):
    """Put a rendered environment in place of this process's gateway settings."""
    for key in list(os.environ):
        if key.startswith("SPAM_GATEWAY_") or key == "AZURE_STORAGE_ACCOUNT_NAME":
            monkeypatch.delenv(key)
    for key, value in env.items():
        if value is not None:
            monkeypatch.setenv(key, value)


def gateway_fields() -> set[str]:
    from spam_gateway.app.core import config

    return {f"SPAM_GATEWAY_{name}" for name in config.Settings.model_fields} | {
        "AZURE_STORAGE_ACCOUNT_NAME"  # the field's validation alias
    }


# ------------------------------------------------------------------ every environment, on and off


@pytest.mark.parametrize("switch", ["on", "off"])
@pytest.mark.parametrize("env", list(chartlib.ENV_FILES))
def test_every_environment_renders_valid_objects_with_feedback_on_and_off(env, switch):
    values = chartlib.env_values(env, ON if switch == "on" else OFF)
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    for doc in docs:
        if doc.body["apiVersion"].startswith(CUSTOM_GROUPS):
            if (doc.body["apiVersion"], doc.kind) not in WITHOUT_SHARED_CRD:
                errors = chartlib.crd_errors(doc.body)  # against ../shared/crds/
                assert not errors, f"{doc.template} {doc.key}: {errors}"
            continue
        try:
            kubernetes_validate.validate(doc.body, "1.30.0", strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{doc.template} {doc.key} invalid: {err}")
    feedback_objects = {
        d.key
        for d in docs
        if d.name in (FEEDBACK_CM, FEAST_CM, MATERIALIZE)
        or d.body["metadata"]["labels"].get("app.kubernetes.io/component") == "feedback"
    }
    mounts = {m["name"] for m in chartlib.container(gateway_spec(docs), "gateway")["volumeMounts"]}
    if switch == "off":
        assert feedback_objects == set()
        assert "feast-repo" not in mounts
        return
    expected = {
        ("ConfigMap", FEEDBACK_CM),
        ("ConfigMap", FEAST_CM),
        ("CronJob", MATERIALIZE),
        ("ServiceAccount", MATERIALIZE),
    }
    if chartlib.networkpolicies_on(values):
        expected |= {("NetworkPolicy", FEEDBACK_CM), ("NetworkPolicy", MATERIALIZE)}
    assert feedback_objects == expected
    assert "feast-repo" in mounts


@pytest.mark.parametrize("env", list(chartlib.ENV_FILES))
def test_the_environment_files_turn_feedback_on(env):
    values = chartlib.env_values(env)
    assert values["gateway"]["feedback"]["enabled"] is True
    docs = chartlib.render_docs(values)
    assert cronjob(docs)["spec"]["schedule"]


def test_feedback_is_off_by_default_and_the_gateway_is_unchanged():
    docs = docs_for()
    assert not [d for d in docs if d.name in (FEEDBACK_CM, FEAST_CM, MATERIALIZE)]
    main = chartlib.container(gateway_spec(docs), "gateway")
    assert main["envFrom"] == [{"configMapRef": {"name": GATEWAY}}]
    assert "env" not in main
    pod = chartlib.only(docs, "Deployment", GATEWAY).body["spec"]["template"]
    assert "checksum/feedback" not in pod["metadata"]["annotations"]


# ------------------------------------------------------------------ configmap-feedback.yaml


def test_configmap_renders_the_feedback_settings_from_values():
    data = chartlib.only(docs_for(ON), "ConfigMap", FEEDBACK_CM).body["data"]
    assert data == {
        "SPAM_GATEWAY_FEEDBACK_FEAST_REPO": REPO_PATH,
        "SPAM_GATEWAY_FEEDBACK_LOG_URL": "abfs://logs/feedback-logs",
        "SPAM_GATEWAY_FEEDBACK_LOG_SPOOL_DIR": "/tmp/spam-gateway/feedback-spool",
        "SPAM_GATEWAY_FEEDBACK_QUOTA": "1000/hour",
        "SPAM_GATEWAY_FEEDBACK_MAX_PER_SENDER_DAY": "10",
        "SPAM_GATEWAY_FEEDBACK_MAX_PER_DOMAIN_DAY": "50",
        "SPAM_GATEWAY_FEEDBACK_RECENT_EMAILS_MB": "64",
        "AZURE_STORAGE_ACCOUNT_NAME": "stspamci",
    }
    custom = {
        "enabled": True,
        "logUrl": "abfs://feedback/reports",
        "quota": "50/minute",
        "maxPerSenderDay": 3,
        "maxPerDomainDay": 7,
        "recentEmailsMb": 0,
    }
    data = chartlib.only(docs_for({"gateway": {"feedback": custom}}), "ConfigMap", FEEDBACK_CM)
    assert data.body["data"]["SPAM_GATEWAY_FEEDBACK_LOG_URL"] == "abfs://feedback/reports"
    assert data.body["data"]["SPAM_GATEWAY_FEEDBACK_QUOTA"] == "50/minute"
    assert data.body["data"]["SPAM_GATEWAY_FEEDBACK_MAX_PER_SENDER_DAY"] == "3"
    assert data.body["data"]["SPAM_GATEWAY_FEEDBACK_MAX_PER_DOMAIN_DAY"] == "7"
    assert data.body["data"]["SPAM_GATEWAY_FEEDBACK_RECENT_EMAILS_MB"] == "0"


def test_the_reporter_quota_reaches_the_gateway():
    docs = docs_for({"gateway": {"limits": {"quotas": {"reporter": "120/minute"}}}})
    data = chartlib.only(docs, "ConfigMap", GATEWAY).body["data"]
    assert data["SPAM_GATEWAY_QUOTA_REPORTER"] == "120/minute"


def test_the_gateway_reads_the_feedback_settings_the_chart_renders(monkeypatch):
    from spam_gateway.app.core import config

    docs = docs_for(ON, {"gateway": {"feedback": {"maxPerSenderDay": 4}}})
    env = container_env(docs, gateway_spec(docs), "gateway")
    assert set(env) - REDIS_ENV <= gateway_fields(), set(env) - REDIS_ENV - gateway_fields()
    settings_env(monkeypatch, env)
    loaded = config.Settings(_env_file=None)
    assert str(loaded.FEEDBACK_FEAST_REPO) == REPO_PATH
    assert loaded.FEEDBACK_LOG_URL == "abfs://logs/feedback-logs"
    assert loaded.FEEDBACK_MAX_PER_SENDER_DAY == 4
    assert loaded.FEEDBACK_QUOTA == "1000/hour"
    assert loaded.AZURE_STORAGE_ACCOUNT_NAME == "stspamci"


# ------------------------------------------------------------------ configmap-feast.yaml


def test_gateway_and_transformer_mount_the_same_feature_store_yaml():
    docs = docs_for(ON)
    gateway = chartlib.only(docs, "ConfigMap", FEAST_CM).body["data"]["feature_store.yaml"]
    transformer = chartlib.only(docs, "ConfigMap", "spam-platform-transformer-feast")
    assert gateway == transformer.body["data"]["feature_store.yaml"]
    assert "${SPAM_REDIS_CONNECTION_STRING}" in gateway
    assert "password" not in gateway.replace("${SPAM_REDIS_CONNECTION_STRING}", "")


# ------------------------------------------------------------------ deployment.yaml


def test_deployment_mounts_the_repository_the_settings_name_and_gets_the_redis_secret():
    docs = docs_for(ON)
    spec = gateway_spec(docs)
    main = chartlib.container(spec, "gateway")
    assert main["envFrom"] == [
        {"configMapRef": {"name": GATEWAY}},
        {"configMapRef": {"name": FEEDBACK_CM}},
    ]
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["feast-repo"] == {"name": "feast-repo", "mountPath": REPO_PATH, "readOnly": True}
    assert volumes["feast-repo"]["configMap"]["name"] == FEAST_CM
    env = {e["name"]: e for e in main["env"]}
    assert env["SPAM_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "spam-platform-redis",
        "key": "redis-password",
    }
    assert "$(SPAM_REDIS_PASSWORD)" in env["SPAM_REDIS_CONNECTION_STRING"]["value"]


def test_deployment_rolls_when_the_feedback_settings_change():
    def checksum(override):
        docs = docs_for(ON, override)
        pod = chartlib.only(docs, "Deployment", GATEWAY).body["spec"]["template"]
        return pod["metadata"]["annotations"]["checksum/feedback"]

    base = checksum({})
    assert checksum({"gateway": {"feedback": {"maxPerSenderDay": 3}}}) != base
    assert checksum({"global": {"feast": {"project": "other"}}}) != base
    assert checksum({"gateway": {"replicaCount": 2}}) == base


# ------------------------------------------------------------------ cronjob.yaml


def test_cronjob_runs_spam_gateway_materialize_hourly_with_a_safe_run_policy():
    docs = docs_for(ON)
    body = cronjob(docs)
    spec = body["spec"]
    assert re.fullmatch(r"\d+ \* \* \* \*", spec["schedule"]), spec["schedule"]
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 1800 and job["backoffLimit"] == 1
    assert job["ttlSecondsAfterFinished"] > 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    main = chartlib.container(pod, "materialize")
    # the gateway image (its ENTRYPOINT is spam-gateway), the materialize sub-command
    gateway = chartlib.container(gateway_spec(docs), "gateway")
    assert main["image"] == gateway["image"]
    assert "command" not in main and main["args"] == ["materialize"]
    dockerfile = (chartlib.REPO / "images" / "gateway" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["spam-gateway"]' in dockerfile
    from spam_gateway.__main__ import main as cli

    with pytest.raises(SystemExit) as done:  # the sub-command exists and takes no options
        cli([*main["args"], "--help"])
    assert done.value.code == 0


def test_cronjob_schedule_and_policy_come_from_values():
    override = {
        "gateway": {
            "feedback": {
                "materialize": {
                    "schedule": "*/30 * * * *",
                    "job": {"activeDeadlineSeconds": 600, "suspend": True},
                }
            }
        }
    }
    spec = cronjob(docs_for(ON, override))["spec"]
    assert spec["schedule"] == "*/30 * * * *"
    assert spec["suspend"] is True
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600


def test_cronjob_env_is_exactly_what_spam_gateway_materialize_reads(monkeypatch):
    """Every variable is a gateway setting (or the Redis pair feature_store.yaml expands),
    the ones ``materialize`` reads are set, and the job's settings load without API keys to
    the same feedback values the gateway runs with."""
    from spam_gateway.app.core import config

    docs = docs_for(ON, {"gateway": {"feedback": {"maxPerDomainDay": 9}}})
    env = container_env(docs, cron_spec(docs), "materialize")
    assert set(env) - REDIS_ENV <= gateway_fields(), set(env) - REDIS_ENV - gateway_fields()
    read_by_materialize = {
        "SPAM_GATEWAY_FEEDBACK_FEAST_REPO",
        "SPAM_GATEWAY_FEEDBACK_LOG_URL",
        "SPAM_GATEWAY_FEEDBACK_MAX_PER_SENDER_DAY",
        "SPAM_GATEWAY_FEEDBACK_MAX_PER_DOMAIN_DAY",
        "AZURE_STORAGE_ACCOUNT_NAME",
    }
    assert read_by_materialize <= set(env)
    assert set(env) >= REDIS_ENV
    assert not any("API_KEYS" in name for name in env)  # the job mounts no API keys
    settings_env(monkeypatch, env)
    job = config.JobSettings(_env_file=None)
    with pytest.raises(ValueError, match="API keys are required"):
        config.Settings(_env_file=None)  # what the gateway itself would refuse
    gateway_env = container_env(docs, gateway_spec(docs), "gateway")
    settings_env(monkeypatch, gateway_env)
    served = config.Settings(_env_file=None)
    for field in ("FEEDBACK_FEAST_REPO", "FEEDBACK_LOG_URL", "AZURE_STORAGE_ACCOUNT_NAME"):
        assert getattr(job, field) == getattr(served, field), field
    assert job.FEEDBACK_MAX_PER_DOMAIN_DAY == served.FEEDBACK_MAX_PER_DOMAIN_DAY == 9
    assert job.FEEDBACK_MAX_PER_SENDER_DAY == served.FEEDBACK_MAX_PER_SENDER_DAY
    # the repository the settings name is the mounted feature_store.yaml
    spec = cron_spec(docs)
    mounts = {
        m["name"]: m["mountPath"] for m in chartlib.container(spec, "materialize")["volumeMounts"]
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["feast-repo"] == str(job.FEEDBACK_FEAST_REPO)
    assert volumes["feast-repo"]["configMap"]["name"] == FEAST_CM


def test_cronjob_runs_restricted_under_its_own_identity_without_an_api_token():
    docs = docs_for(
        ON,
        {"global": {"azure": {"workloadIdentity": {"clientId": CLIENT_ID}}}},
    )
    job = cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]
    spec = job["spec"]
    assert spec["serviceAccountName"] == MATERIALIZE
    assert spec["automountServiceAccountToken"] is False
    assert job["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = chartlib.container(spec, "materialize")["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    account = chartlib.only(docs, "ServiceAccount", MATERIALIZE).body
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["annotations"] == {"azure.workload.identity/client-id": CLIENT_ID}
    own = docs_for(
        ON,
        {
            "global": {"azure": {"workloadIdentity": {"clientId": CLIENT_ID}}},
            "gateway": {
                "feedback": {
                    "materialize": {
                        "serviceAccount": {
                            "annotations": {"azure.workload.identity/client-id": OWN_CLIENT_ID}
                        }
                    }
                }
            },
        },
    )
    account = chartlib.only(own, "ServiceAccount", MATERIALIZE).body
    assert account["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": OWN_CLIENT_ID
    }
    gateway_account = chartlib.only(own, "ServiceAccount", GATEWAY).body
    assert gateway_account["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": CLIENT_ID
    }


def test_no_gateway_selector_matches_the_materialize_pods():
    docs = docs_for(ON, {"gateway": {"pdb": {"create": True}}})
    labels = cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    selectors = [
        chartlib.only(docs, "Service", GATEWAY).body["spec"]["selector"],
        chartlib.only(docs, "Deployment", GATEWAY).body["spec"]["selector"]["matchLabels"],
        chartlib.only(docs, "PodDisruptionBudget", GATEWAY).body["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert not all(labels.get(k) == v for k, v in selector.items()), selector


def test_no_cronjob_when_materialize_is_disabled():
    docs = docs_for({"gateway": {"feedback": {"enabled": True, "materialize": {"enabled": False}}}})
    assert not [d for d in docs if d.name == MATERIALIZE]
    assert chartlib.only(docs, "ConfigMap", FEEDBACK_CM)


# ------------------------------------------------------------------ networkpolicy-feedback.yaml


def egress_of(docs, pod_labels):
    """Every egress rule of the NetworkPolicies that select pods with these labels."""
    rules = []
    for doc in docs:
        if doc.kind != "NetworkPolicy" or "Egress" not in doc.body["spec"]["policyTypes"]:
            continue
        selector = doc.body["spec"]["podSelector"].get("matchLabels", {})
        if all(pod_labels.get(k) == v for k, v in selector.items()):
            rules += doc.body["spec"].get("egress", [])
    return rules


def ports(rules):
    return {p["port"] for rule in rules for p in rule.get("ports", [])}


NETPOL = {"global": {"networkPolicy": {"enabled": True}}}


def test_the_gateway_reaches_redis_only_with_feedback_on():
    for override, expected in ((ON, True), (OFF, False)):
        docs = docs_for(NETPOL, override)
        labels = chartlib.only(docs, "Deployment", GATEWAY).body["spec"]["template"]["metadata"][
            "labels"
        ]
        assert (6379 in ports(egress_of(docs, labels))) is expected


def test_materialize_pods_reach_only_redis_blob_and_dns():
    docs = docs_for(NETPOL, ON)
    labels = cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    own = chartlib.only(docs, "NetworkPolicy", MATERIALIZE).body["spec"]
    assert own["ingress"] == [] and set(own["policyTypes"]) == {"Ingress", "Egress"}
    rules = egress_of(docs, labels)
    assert ports(rules) == {6379, 443, 53}
    redis = [r for r in rules if {p["port"] for p in r["ports"]} == {6379}]
    assert [b["ipBlock"]["cidr"] for r in redis for b in r["to"]] == ["0.0.0.0/0"]
    # the gateway's own policies (transformer, Kubernetes API) do not apply to these pods
    gateway_policy = chartlib.only(docs, "NetworkPolicy", GATEWAY).body["spec"]
    selector = gateway_policy["podSelector"]["matchLabels"]
    assert not all(labels.get(k) == v for k, v in selector.items())


# ------------------------------------------------------------------ guards and schema


def test_feedback_without_redis_fails_naming_what_to_set():
    """The gateway's own guard (the transformer, always on with the gateway, checks the same
    values; whichever template renders first reports)."""
    values = chartlib.minimal_values(ON)
    values["global"]["redis"] = {"host": "", "existingSecret": ""}
    with pytest.raises(helm_python.HelmRenderError, match=r"global\.redis\.host: required by"):
        chartlib.render(values)


@pytest.mark.parametrize(
    "feedback",
    [
        {"logUrl": "s3://bucket/x"},
        {"quota": "lots"},
        {"maxPerSenderDay": 0},
        {"materialize": {"schedule": "hourly"}},
        {"materialize": {"job": {"concurrencyPolicy": "Sometimes"}}},
        {"typo": True},
    ],
)
def test_schema_rejects_bad_feedback_values(feedback):
    values = chartlib.minimal_values({"gateway": {"feedback": {"enabled": True, **feedback}}})
    with pytest.raises(helm_python.HelmValuesError, match="don't meet the specifications"):
        chartlib.render(values)
