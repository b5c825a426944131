"""batch subchart: raycluster.yaml, configmap-rayjob.yaml, role.yaml, rolebinding.yaml."""

from __future__ import annotations

import yaml

from tests.charts import chartlib

PLACEHOLDERS = (
    "{job_id}",
    "{input_uri}",
    "{output_uri}",
    "{status_uri}",
    "{environment}",
    "{model_version}",
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
    assert head["image"] == "spam-platform/batch:0.1.0"
    assert {p["containerPort"] for p in head["ports"]} == {6379, 8265, 10001, 8080}
    (workers,) = spec["workerGroupSpecs"]
    assert workers["groupName"] == "workers"
    assert workers["replicas"] == workers["minReplicas"] == workers["maxReplicas"] == 1
    worker = chartlib.container(workers["template"]["spec"], "ray-worker")
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert env["HOME"] == "/tmp"
    assert env["AZURE_STORAGE_ACCOUNT_NAME"] == "stspamci"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.spam-ci.svc.cluster.local:5000"
    shm = [m for m in worker["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    assert shm, "Ray's object store needs a shared-memory emptyDir"


def test_rayjob_template_targets_the_raycluster_and_keeps_the_placeholders():
    docs = docs_for()
    job = rayjob(docs)
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    cluster = chartlib.only(docs, "RayCluster").body
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    assert job["spec"]["entrypoint"] == (
        "spam-batch run --input {input_uri} --output {output_uri}"
        " --model models:/spam-detector/{model_version} --status-dir {status_uri}"
        " --job-id {job_id} --environment {environment}"
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
