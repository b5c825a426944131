"""batch subchart: raycluster.yaml, configmap-rayjob.yaml, configmap-feast.yaml, role.yaml,
rolebinding.yaml."""

from __future__ import annotations

import shlex

import pytest
import yaml

from tests.charts import chartlib
from tests.charts.chartlib import SCENARIOS

FEAST_REPO = "/etc/spam-platform/feast"
FEAST_CONFIGMAP = "spam-platform-batch-feast"

PLACEHOLDERS = (
    "{job_id}",
    "{input_uri}",
    "{output_uri}",
    "{status_uri}",
    "{environment}",
    "{model_version}",
    "{input_roots}",
    "{output_roots}",
)


def docs_for(override=None):
    return chartlib.render_docs(chartlib.minimal_values(override or {}))


def rayjob(docs):
    (job,) = chartlib.embedded_rayjobs(docs)
    return job


def test_raycluster_runs_the_trainer_image_on_a_head_and_workers():
    cluster = chartlib.only(docs_for(), "RayCluster", "spam-platform-batch").body
    assert cluster["apiVersion"] == "ray.io/v1"
    spec = cluster["spec"]
    assert spec["rayVersion"] == "2.60.0"
    assert spec["authOptions"] == {"mode": "token"}
    head = chartlib.container(spec["headGroupSpec"]["template"]["spec"], "ray-head")
    assert head["image"] == "spam-platform/batch:0.2.0"
    assert {p["containerPort"] for p in head["ports"]} == {6379, 8265, 10001, 8080}
    (workers,) = spec["workerGroupSpecs"]
    assert workers["groupName"] == "workers"
    assert workers["replicas"] == workers["minReplicas"] == workers["maxReplicas"] == 1
    worker = chartlib.container(workers["template"]["spec"], "ray-worker")
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["HOME"] == "/tmp"
    assert env["AZURE_STORAGE_ACCOUNT_NAME"] == "stspamci"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.spam-ci.svc.cluster.local:5000"
    shm = [m for m in worker["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    assert shm, "Ray's object store needs a shared-memory emptyDir"


def test_probes_are_tcp_so_kuberay_does_not_inject_its_dashboard_probes():
    """KubeRay gives a Ray container without probes of its own probes that ask the dashboard
    agent (52365; older Ray: `wget`, which the image lacks); each container brings TCP probes
    instead (spam-common.ray.probes, the tuning chart's too). The head is ready when the
    dashboard's job API answers (8265, the batch image's ray[default]): KubeRay submits the
    RayJobs through it once the cluster is ready (tests/batch/test_job_api.py runs that API
    in the image's environment)."""
    cluster = chartlib.only(docs_for(), "RayCluster", "spam-platform-batch").body
    assert chartlib.crd_errors(cluster) == []
    spec = cluster["spec"]
    head = chartlib.container(spec["headGroupSpec"]["template"]["spec"], "ray-head")
    assert head["livenessProbe"]["tcpSocket"] == {"port": 6379}
    assert head["readinessProbe"]["tcpSocket"] == {"port": 8265}
    dashboard = {p["name"]: p["containerPort"] for p in head["ports"]}["dashboard"]
    assert head["readinessProbe"]["tcpSocket"]["port"] == dashboard
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    (group,) = spec["workerGroupSpecs"]
    raylet = int(group["rayStartParams"]["node-manager-port"])
    worker = chartlib.container(group["template"]["spec"], "ray-worker")
    assert {"name": "raylet", "containerPort": raylet} in worker["ports"]
    assert worker["livenessProbe"]["tcpSocket"] == {"port": raylet}
    assert worker["readinessProbe"]["tcpSocket"] == {"port": raylet}


def test_rayjob_template_targets_the_raycluster_and_keeps_the_placeholders():
    docs = docs_for()
    job = rayjob(docs)
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    cluster = chartlib.only(docs, "RayCluster", "spam-platform-batch").body
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    assert job["spec"]["entrypoint"] == (
        "spam-batch run --input {input_uri} --output {output_uri}"
        " --model models:/spam-detector/{model_version} --status-dir {status_uri}"
        " --job-id {job_id} --environment {environment}"
        " --input-roots '{input_roots}' --output-roots '{output_roots}'"
    )
    text = yaml.safe_dump(job)
    for placeholder in PLACEHOLDERS:
        assert placeholder in text
    assert job["metadata"]["namespace"] == chartlib.NAMESPACE
    assert job["spec"]["submissionMode"] == "K8sJobMode"
    submitter = job["spec"]["submitterPodTemplate"]["spec"]
    assert submitter["restartPolicy"] == "Never"
    assert submitter["containers"][0]["name"] == "ray-job-submitter"
    assert "command" not in submitter["containers"][0]  # KubeRay fills in `ray job submit`


def test_rayjob_template_names_no_model_version():
    job = yaml.safe_dump(rayjob(chartlib.render_docs(chartlib.env_values("production"))))
    assert "/7" not in job and "v7" not in job and "/8" not in job


def test_http_submission_mode_has_no_submitter_pod():
    job = rayjob(docs_for({"batch": {"rayJob": {"submissionMode": "HTTPMode"}}}))
    assert job["spec"]["submissionMode"] == "HTTPMode"
    assert "submitterPodTemplate" not in job["spec"]


def test_custom_entrypoint_needs_no_mlflow():
    values = chartlib.minimal_values(
        {
            "global": {"mlflow": {"trackingUri": ""}},
            "batch": {"rayJob": {"entrypoint": "python -m job {input_uri}"}},
        }
    )
    assert rayjob(chartlib.render_docs(values))["spec"]["entrypoint"] == "python -m job {input_uri}"


def test_role_lets_the_gateway_manage_rayjobs_in_the_release_namespace():
    docs = docs_for()
    role = chartlib.only(docs, "Role").body
    assert role["metadata"]["namespace"] == chartlib.NAMESPACE
    assert role["rules"][0]["verbs"] == ["create", "get", "list", "delete"]
    binding = chartlib.only(docs, "RoleBinding").body
    gateway = chartlib.only(docs, "Deployment", "spam-platform-gateway").body["spec"]["template"][
        "spec"
    ]
    assert binding["subjects"][0]["name"] == gateway["serviceAccountName"]
    assert gateway["automountServiceAccountToken"] is True


def test_rbac_can_be_left_to_the_cluster_admin():
    docs = docs_for({"batch": {"rbac": {"create": False}}})
    assert not {"Role", "RoleBinding"} & chartlib.kinds(docs)


# --------------------------------------------------------------- sender reputation (Feast)


def ray_pods(docs):
    """(group, container) of the Ray head and of every worker group."""
    spec = chartlib.only(docs, "RayCluster", "spam-platform-batch").body["spec"]
    pods = [("head", spec["headGroupSpec"]["template"]["spec"], "ray-head")]
    pods += [
        (g["groupName"], g["template"]["spec"], "ray-worker") for g in spec["workerGroupSpecs"]
    ]
    return [(group, pod, chartlib.container(pod, name)) for group, pod, name in pods]


@pytest.mark.parametrize(
    "name",
    [n for n, v in SCENARIOS.items() if v.get("batch", {}).get("enabled", True)],
    ids=str,
)
def test_head_and_workers_mount_the_feast_repository_of_the_reputation_store(name):
    docs = chartlib.render_docs(SCENARIOS[name])
    feast = chartlib.only(docs, "ConfigMap", FEAST_CONFIGMAP).body["data"]
    assert yaml.safe_load(feast["feature_store.yaml"])["online_store"] == {
        "type": "redis",
        "connection_string": "${SPAM_REDIS_CONNECTION_STRING}",
    }
    groups = ray_pods(docs)
    assert [g for g, _, _ in groups] == ["head", "workers"]  # the Scorer actors run on workers
    for group, pod, main in groups:
        (volume,) = [v for v in pod["volumes"] if v["name"] == "feast-repo"]
        assert volume["configMap"]["name"] == FEAST_CONFIGMAP, group
        (mount,) = [m for m in main["volumeMounts"] if m["name"] == "feast-repo"]
        assert mount == {"name": "feast-repo", "mountPath": FEAST_REPO, "readOnly": True}, group
        env = {e["name"]: e for e in main["env"]}
        assert env["SPAM_FEAST_REPO"]["value"] == FEAST_REPO, group


def test_ray_pods_take_the_redis_password_from_the_existing_secret():
    for values, expected in (
        (chartlib.minimal_values(), "redis.spam-ci.svc.cluster.local:6379,{},ssl=false,{}"),
        (
            chartlib.env_values("production"),
            "redis-spam-prod.redis.cache.windows.net:6380,{},ssl=true,{}",
        ),
    ):
        docs = chartlib.render_docs(values)
        transformer = chartlib.only(docs, "Deployment", "spam-platform-transformer").body
        transformer_env = chartlib.container(
            transformer["spec"]["template"]["spec"], "transformer"
        )["env"]
        for group, _, main in ray_pods(docs):
            env = {e["name"]: e for e in main["env"]}
            assert env["SPAM_REDIS_PASSWORD"] == {
                "name": "SPAM_REDIS_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {"name": "spam-platform-redis", "key": "redis-password"}
                },
            }, group
            assert env["SPAM_REDIS_CONNECTION_STRING"]["value"] == expected.format(
                "password=$(SPAM_REDIS_PASSWORD)", "socket_timeout=0.5,socket_connect_timeout=0.5"
            ), group
            names = [e["name"] for e in main["env"]]
            # $(SPAM_REDIS_PASSWORD) only expands when it is declared first
            assert names.index("SPAM_REDIS_PASSWORD") < names.index("SPAM_REDIS_CONNECTION_STRING")
            # exactly the transformer's Redis environment
            redis = [e for e in main["env"] if e["name"].startswith("SPAM_REDIS_")]
            assert redis == [e for e in transformer_env if e["name"].startswith("SPAM_REDIS_")]


def test_the_submitter_pod_gets_no_redis_password():
    submitter = rayjob(docs_for())["spec"]["submitterPodTemplate"]["spec"]
    (main,) = submitter["containers"]
    names = {e["name"] for e in main["env"]}
    assert not {"SPAM_REDIS_PASSWORD", "SPAM_REDIS_CONNECTION_STRING"} & names
    assert "valueFrom" not in yaml.safe_dump(submitter)


def test_batch_needs_the_redis_settings_even_without_the_transformer():
    import helm_python

    alone = {"gateway": {"enabled": False}, "transformer": {"enabled": False}}
    for missing, expected in (
        ({"global": {"redis": {"host": ""}}}, "global.redis.host: required by batch"),
        (
            {"global": {"redis": {"existingSecret": ""}}},
            "global.redis.existingSecret: required by batch",
        ),
    ):
        with pytest.raises(helm_python.HelmRenderError, match="invalid values") as err:
            chartlib.render(chartlib.minimal_values(alone, missing))
        assert expected in str(err.value)
    docs = chartlib.render_docs(chartlib.minimal_values(alone))
    assert chartlib.only(docs, "ConfigMap", FEAST_CONFIGMAP)
    assert not [d for d in docs if d.name == "spam-platform-transformer-feast"]


def test_the_job_the_gateway_submits_runs_spam_batch_with_the_mounted_feast_repository(
    tmp_path, monkeypatch
):
    """The gateway fills the chart's RayJob template; its entrypoint runs on the RayCluster head
    (the job driver) with the head container's environment: spam-batch gets the Feast
    repository from SPAM_FEAST_REPO, the folder the batch feature_store.yaml is mounted on.

    Only the arguments are captured here (``run_job`` replaced): this entrypoint names Azure
    Blob inputs and a registry version that exist only in a cluster. The job itself runs for
    real in tests/batch and tests/gateway/api/test_batch.py."""
    batch_jobs = pytest.importorskip("spam_gateway.app.batch_jobs")
    gateway_config = pytest.importorskip("spam_gateway.app.core.config")
    cli = pytest.importorskip("spam_batch.cli")
    spam_batch_job = pytest.importorskip("spam_batch.job")
    from typer.testing import CliRunner

    from spam_core.jobs import JobStatus

    docs = docs_for()
    text = chartlib.only(docs, "ConfigMap", "spam-platform-batch-rayjob").body["data"][
        "rayjob.yaml"
    ]
    template = tmp_path / "rayjob.yaml"
    template.write_text(text)
    status_dir = tmp_path / "status"
    settings = gateway_config.Settings(
        _env_file=None,
        API_KEYS="[]",
        BATCH_BACKEND="rayjob",
        BATCH_RAYJOB_TEMPLATE=template,
        BATCH_STATUS_URL=str(status_dir),
        MODEL_VERSION_PRODUCTION="1",
        BATCH_INPUT_ROOTS=["abfs://datasets/in"],
        BATCH_OUTPUT_ROOTS=["abfs://datasets/out"],
    )
    status = JobStatus(
        job_id="batch-20261126-000000-abcdef12",
        state="pending",
        environment="production",
        model_ref="models:/spam-detector/1",
        input_path="abfs://datasets/in/mail.parquet",
        output_path="abfs://datasets/out/p.parquet",
    )
    manifest = batch_jobs.BatchJobs(settings).render_rayjob(status)
    cluster = chartlib.only(docs, "RayCluster", "spam-platform-batch").body
    assert manifest["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    assert "{" not in manifest["spec"]["entrypoint"]  # every placeholder filled

    argv = shlex.split(manifest["spec"]["entrypoint"])
    assert argv[:2] == ["spam-batch", "run"]
    head = chartlib.container(cluster["spec"]["headGroupSpec"]["template"]["spec"], "ray-head")
    env = {e["name"]: e["value"] for e in head["env"] if "value" in e}
    seen = {}

    def fake_run_job(status, store, **kwargs):
        seen.update(kwargs, model_ref=status.model_ref)
        return status.model_copy(update={"state": "succeeded"})

    monkeypatch.setattr(spam_batch_job, "run_job", fake_run_job)
    monkeypatch.delenv("SPAM_FEAST_REPO", raising=False)
    result = CliRunner().invoke(cli.app, argv[1:], env=env)
    assert result.exit_code == 0, result.output
    assert seen["feast_repo"] == FEAST_REPO
    assert seen["model_ref"] == "models:/spam-detector/1"
    assert seen["inference_log_url"] == "abfs://logs/inference-logs"
