"""tuning subchart: raycluster.yaml, networkpolicy.yaml, role/rolebinding-autoscaler.yaml, and the
address the drift chart's retrain step passes to the pipeline runs (ray_address)."""

from __future__ import annotations

import json

from tests.charts import chartlib

ON = {"tuning": {"enabled": True}}
CLUSTER = "spam-platform-tuning"
ADDRESS = f"ray://{CLUSTER}-head-svc.{chartlib.NAMESPACE}.svc:10001"
RETRAIN = {"drift": {"enabled": True, "retrain": {"enabled": True}}}


def docs_for(*overrides):
    return chartlib.render_docs(chartlib.minimal_values(ON, *overrides))


def cluster_spec(docs):
    return chartlib.only(docs, "RayCluster", CLUSTER).body["spec"]


def pipeline_arguments(docs) -> dict:
    (job,) = [d for d in docs if d.kind == "CronJob" and d.name.endswith("drift-production")]
    pod = job.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in chartlib.container(pod, "retrain")["env"]}
    return json.loads(env["SPAM_RETRAIN_PIPELINE_ARGUMENTS"])


def test_nothing_is_rendered_unless_tuning_is_enabled():
    docs = chartlib.render_docs(chartlib.minimal_values())
    assert not [d for d in docs if d.name.startswith(CLUSTER)]


def test_raycluster_runs_the_trainer_image_with_workers_autoscaled_from_zero():
    cluster = chartlib.only(docs_for(), "RayCluster", CLUSTER).body
    assert cluster["apiVersion"] == "ray.io/v1"
    assert chartlib.crd_errors(cluster) == []
    spec = cluster["spec"]
    assert spec["rayVersion"] == "2.60.0"
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["authOptions"] == {"mode": "disabled"}
    head_spec = spec["headGroupSpec"]
    # the head runs the Tune loop, the trials run on the workers; no dashboard in the image
    assert head_spec["rayStartParams"] == {"include-dashboard": "false", "num-cpus": "0"}
    head = chartlib.container(head_spec["template"]["spec"], "ray-head")
    assert head["image"] == "spam-platform/trainer:0.2.0"
    ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    assert ports["client"] == 10001 and ports["gcs-server"] == 6379
    (group,) = spec["workerGroupSpecs"]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (0, 0, 4)
    worker = chartlib.container(group["template"]["spec"], "ray-worker")
    assert worker["image"] == head["image"]
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert env == {"HOME": "/tmp", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def test_probes_are_tcp_so_kuberay_does_not_inject_its_dashboard_probes():
    """KubeRay adds wget probes against the dashboard (52365, 8265) to a Ray container without
    probes of its own; the trainer image has neither, so each container brings its own."""
    spec = cluster_spec(docs_for())
    head = chartlib.container(spec["headGroupSpec"]["template"]["spec"], "ray-head")
    assert head["livenessProbe"]["tcpSocket"] == {"port": 6379}
    assert head["readinessProbe"]["tcpSocket"] == {"port": 10001}
    (group,) = spec["workerGroupSpecs"]
    raylet = int(group["rayStartParams"]["node-manager-port"])
    worker = chartlib.container(group["template"]["spec"], "ray-worker")
    assert worker["livenessProbe"]["tcpSocket"] == {"port": raylet}
    assert worker["readinessProbe"]["tcpSocket"] == {"port": raylet}


def test_only_the_head_mounts_a_token_and_only_for_the_autoscaler():
    spec = cluster_spec(docs_for())
    (group,) = spec["workerGroupSpecs"]
    assert spec["headGroupSpec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert group["template"]["spec"]["automountServiceAccountToken"] is False
    docs = docs_for()
    role = chartlib.only(docs, "Role", "spam-platform-tuning-autoscaler").body
    (scale,) = [r for r in role["rules"] if r["apiGroups"] == ["ray.io"]]
    assert scale["resourceNames"] == [CLUSTER]

    fixed = docs_for({"tuning": {"autoscaling": {"enabled": False}, "workers": {"replicas": 2}}})
    spec = cluster_spec(fixed)
    (group,) = spec["workerGroupSpecs"]
    assert spec["enableInTreeAutoscaling"] is False and "autoscalerOptions" not in spec
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (2, 2, 2)
    assert spec["headGroupSpec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not [d for d in fixed if d.kind in ("Role", "RoleBinding") and "tuning" in d.name]


def test_networkpolicy_lets_the_pipeline_pods_reach_only_the_client_port():
    docs = docs_for(
        {
            "global": {"networkPolicy": {"enabled": True}},
            "tuning": {"networkPolicy": {"clientNamespaces": ["kubeflow", "spam-ml"]}},
        }
    )
    policy = chartlib.only(docs, "NetworkPolicy", CLUSTER).body["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "tuning"
    client = [rule for rule in policy["ingress"] if "ports" in rule]
    assert len(client) == 1
    assert client[0]["ports"] == [{"protocol": "TCP", "port": 10001}]
    namespaces = [p["namespaceSelector"]["matchLabels"] for p in client[0]["from"]]
    assert namespaces == [
        {"kubernetes.io/metadata.name": "kubeflow"},
        {"kubernetes.io/metadata.name": "spam-ml"},
    ]
    # the trials read and write nothing outside Ray: no Azure, no Redis, only the API server
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule.get("ports", [])}
    assert egress_ports == {443, 6443}
    (api,) = [rule for rule in policy["egress"] if rule.get("ports")]
    assert [p["ipBlock"]["cidr"] for p in api["to"]] == ["0.0.0.0/0"]


def test_retrain_runs_get_the_tuning_clusters_address_as_ray_address():
    docs = docs_for(RETRAIN, {"drift": {"retrain": {"kfp": {"tuningCluster": True}}}})
    arguments = pipeline_arguments(docs)
    assert arguments == {"ray_address": ADDRESS}
    # the address names the RayCluster the chart rendered (KubeRay's "<cluster>-head-svc")
    cluster = chartlib.only(docs, "RayCluster", CLUSTER)
    assert arguments["ray_address"].startswith(f"ray://{cluster.name}-head-svc.")
    # off by default: the runs keep the pipeline's own default (an embedded Ray)
    assert pipeline_arguments(docs_for(RETRAIN)) == {}


def test_the_address_is_a_declared_pipeline_parameter_the_tune_step_reads():
    from spam_trainer.retrain import pipeline_parameters

    newest = sorted(
        (chartlib.REPO / "pipelines" / "compiled").glob("spam-training-v*.yaml"),
        key=lambda p: int(p.stem.rsplit("v", 1)[1]),
    )[-1]
    assert "ray_address" in pipeline_parameters(newest)


def test_notes_name_the_address_when_the_cluster_is_installed():
    notes = "spam-platform/templates/NOTES.txt"
    assert f"ray_address={ADDRESS}" in chartlib.render(chartlib.minimal_values(ON))[notes]
    assert "ray_address" not in chartlib.render(chartlib.minimal_values())[notes]
