"""drift subchart, the retrain step (`drift.retrain.*`): cronjob.yaml and networkpolicy.yaml."""

from __future__ import annotations

import json
import os

import kubernetes_validate
import pytest

from tests.charts import chartlib

SCENARIO = "08-drift-retrain-values.yaml"
ON = {"drift": {"enabled": True, "retrain": {"enabled": True}}}


def cronjobs(docs):
    return {d.name: d.body for d in docs if d.kind == "CronJob"}


def pod(cronjob):
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def env_of(container) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_renders_no_retrain_step_unless_enabled():
    for name, values in chartlib.SCENARIOS.items():
        if values.get("drift", {}).get("retrain", {}).get("enabled"):
            continue
        docs = chartlib.render_docs(chartlib.deep_merge(values, chartlib.INSTALL_SET))
        for job in cronjobs(docs).values():
            spec = pod(job)
            assert "initContainers" not in spec, name
            assert [c["name"] for c in spec["containers"]] != ["retrain"], name


def test_the_retrain_track_runs_drift_first_then_retrain_in_the_trainer_image():
    jobs = cronjobs(chartlib.render_docs(chartlib.minimal_values(ON)))
    production = pod(jobs["spam-platform-drift-production"])
    assert [c["name"] for c in production["initContainers"]] == ["drift"]
    assert [c["name"] for c in production["containers"]] == ["retrain"]
    retrain = chartlib.container(production, "retrain")
    assert retrain["image"] == "spam-platform/trainer:0.2.0"
    assert retrain["args"] == ["--quiet", "retrain"]
    drift = production["initContainers"][0]
    assert "--environment=production" in drift["args"]
    # the other track is untouched
    staging = pod(jobs["spam-platform-drift-staging"])
    assert "initContainers" not in staging
    assert [c["name"] for c in staging["containers"]] == ["drift"]


def test_the_decision_reads_where_drift_and_the_gateway_write():
    docs = chartlib.render_docs(chartlib.minimal_values(ON))
    production = pod(cronjobs(docs)["spam-platform-drift-production"])
    env = env_of(chartlib.container(production, "retrain"))
    drift_env = env_of(production["initContainers"][0])
    assert env["SPAM_RETRAIN_DRIFT_REPORTS_URL"] == drift_env["SPAM_DRIFT_REPORTS_URL"]
    assert env["SPAM_RETRAIN_FEEDBACK_LOG_URL"] == "abfs://logs/feedback-logs"
    assert env["SPAM_RETRAIN_DECISIONS_URL"] == "abfs://logs/retrain-decisions"
    assert env["MLFLOW_TRACKING_URI"] == drift_env["MLFLOW_TRACKING_URI"]
    assert env["SPAM_MODEL_NAME"] == "spam-detector"
    assert env["SPAM_RETRAIN_MODE"] == "kfp"
    assert env["SPAM_RETRAIN_KFP_HOST"] == "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
    gateway = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"]
    assert env["SPAM_RETRAIN_DRIFT_REPORTS_URL"] == gateway["SPAM_GATEWAY_DRIFT_REPORTS_URL"]


def test_the_rendered_environment_is_a_valid_retrain_policy(monkeypatch):
    """The container's SPAM_RETRAIN_* variables, read by the trainer's own settings class."""
    from spam_trainer.retrain import RetrainPolicy

    docs = chartlib.render_docs(chartlib.ci_values(SCENARIO))
    env = env_of(
        chartlib.container(pod(cronjobs(docs)["spam-platform-drift-production"]), "retrain")
    )
    for key in [k for k in os.environ if k.startswith("SPAM_RETRAIN_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    policy = RetrainPolicy()
    assert policy.mode == "kfp" and policy.drift_environments == ["production"]
    assert policy.min_feedback_rows == 500 and policy.require_drift is False
    assert policy.max_model_age.days == 14 and policy.cooldown.total_seconds() == 12 * 3600
    assert policy.kfp_namespace == "spam-ml"
    assert str(policy.kfp_token_path) == "/var/run/secrets/kubeflow/pipelines/token"
    assert policy.pipeline_arguments == {"trials": 20, "cpus": "4"}
    assert policy.decisions_url == "abfs://logs/retrain-decisions"
    monkeypatch.setenv("SPAM_RETRAIN_MAX_MODEL_AGE", "off")
    assert RetrainPolicy().max_model_age is None


def test_a_projected_kfp_token_only_when_asked():
    docs = chartlib.render_docs(chartlib.ci_values(SCENARIO))
    spec = pod(cronjobs(docs)["spam-platform-drift-production"])
    assert spec["automountServiceAccountToken"] is False
    (volume,) = [v for v in spec["volumes"] if v["name"] == "kfp-token"]
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"
    retrain = chartlib.container(spec, "retrain")
    mounts = {m["name"]: m for m in retrain["volumeMounts"]}
    assert mounts["kfp-token"]["mountPath"] == "/var/run/secrets/kubeflow/pipelines"
    assert mounts["kfp-token"]["readOnly"] is True
    drift = spec["initContainers"][0]
    assert "kfp-token" not in {m["name"] for m in drift["volumeMounts"]}
    plain = pod(
        cronjobs(chartlib.render_docs(chartlib.minimal_values(ON)))[
            "spam-platform-drift-production"
        ]
    )
    assert "kfp-token" not in {v["name"] for v in plain["volumes"]}


def test_dry_run_and_pipeline_arguments():
    values = chartlib.minimal_values(
        ON,
        {"drift": {"retrain": {"dryRun": True, "kfp": {"arguments": {"trials": 4}}}}},
    )
    spec = pod(cronjobs(chartlib.render_docs(values))["spam-platform-drift-production"])
    retrain = chartlib.container(spec, "retrain")
    assert retrain["args"] == ["--quiet", "retrain", "--dry-run"]
    assert json.loads(env_of(retrain)["SPAM_RETRAIN_PIPELINE_ARGUMENTS"]) == {"trials": 4}


def test_the_retrain_container_runs_restricted():
    spec = pod(
        cronjobs(chartlib.render_docs(chartlib.ci_values(SCENARIO)))[
            "spam-platform-drift-production"
        ]
    )
    sc = chartlib.container(spec, "retrain")["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert chartlib.container(spec, "retrain")["resources"]["limits"]


def test_networkpolicy_lets_the_pod_reach_the_kfp_api_only_when_retraining():
    def kfp_rules(values):
        docs = chartlib.render_docs(values)
        policy = chartlib.only(docs, "NetworkPolicy", "spam-platform-drift").body
        return [
            rule
            for rule in policy["spec"]["egress"]
            if {"protocol": "TCP", "port": 8888} in rule.get("ports", [])
        ]

    (rule,) = kfp_rules(chartlib.ci_values(SCENARIO))
    assert rule["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kubeflow"}}}
    ]
    assert kfp_rules(chartlib.ci_values("07-drift-monitoring-values.yaml")) == []


@pytest.mark.parametrize("env", sorted(chartlib.ENV_FILES))
def test_every_environment_renders_valid_objects_with_retrain_on(env):
    values = chartlib.env_values(env, chartlib.INSTALL_SET, ON)
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    jobs = cronjobs(docs)
    retraining = [n for n, j in jobs.items() if "initContainers" in pod(j)]
    assert retraining == ["spam-platform-drift-production"]
    for doc in docs:
        if doc.kind in ("CronJob", "NetworkPolicy"):
            kubernetes_validate.validate(doc.body, "1.30.0", strict=True)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"track": "qa"}, "at '/retrain/track': value must be one of 'staging', 'production'"),
        ({"policy": {"maxModelAge": "forever"}}, "at '/retrain/policy/maxModelAge'"),
        ({"policy": {"driftEnvironments": ["prod"]}}, "at '/retrain/policy/driftEnvironments/0'"),
        ({"kfp": {"host": "ml-pipeline:8888"}}, "at '/retrain/kfp/host'"),
        ({"resumeAfter": "1h"}, "additional properties 'resumeAfter' not allowed"),
    ],
)
def test_the_schema_refuses_bad_retrain_values(override, message):
    import helm_python

    values = chartlib.minimal_values(ON, {"drift": {"retrain": override}})
    with pytest.raises(helm_python.HelmError) as err:
        chartlib.render(values)
    assert message in str(err.value)


def test_the_retrain_track_must_run_drift():
    import helm_python

    values = chartlib.minimal_values(
        ON, {"drift": {"environments": {"production": {"enabled": False}}}}
    )
    with pytest.raises(helm_python.HelmError) as err:
        chartlib.render(values)
    assert "drift.retrain.track: the production track's drift CronJob runs the retrain step" in str(
        err.value
    )
