"""Restricted pods everywhere, no secret in any values file or manifest, least-privilege RBAC,
and NetworkPolicies covering every pod of a production installation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts import chartlib
from tests.charts.chartlib import SCENARIOS, networkpolicies_on

VALUES_FILES = sorted(
    [
        chartlib.CHART / "values.yaml",
        *(chartlib.CHART / "charts" / s / "values.yaml" for s in chartlib.SUBCHARTS),
        *chartlib.ENV_FILES.values(),
        *chartlib.CI_FILES.values(),
    ]
)
# Keys whose value names a Secret or a key inside one: references, not secrets.
REFERENCE_KEYS = {
    "existingSecret",
    "passwordKey",
    "testKey",
    "key",
    "tlsSecretName",
    "imagePullSecrets",
}
SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api_?key|access_?key|connection_?string|sas", re.I
)
SECRET_TEXT = [
    re.compile(r"AccountKey=", re.I),
    re.compile(r"SharedAccessSignature|[?&]sig=", re.I),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"password\s*=\s*(?![$<])[^,\s\"']+", re.I),
    re.compile(
        r"\b(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*\d)[A-Za-z0-9+/]{40,}={0,2}"
    ),
]


def secret_findings(text: str) -> list[str]:
    """Secret-looking literals in a values file: keys that hold secrets, and secret patterns."""
    found = [m.group(0) for pattern in SECRET_TEXT for m in pattern.finditer(text)]

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        else:
            leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
            if SECRET_KEY.search(leaf) and leaf not in REFERENCE_KEYS and node not in ("", None):
                found.append(f"{path}={node!r}")

    walk(yaml.safe_load(text), "")
    return found


@pytest.mark.parametrize("path", VALUES_FILES, ids=lambda p: str(p.relative_to(chartlib.REPO)))
def test_values_files_hold_no_secret_literals(path: Path):
    assert secret_findings(path.read_text()) == []


@pytest.mark.parametrize(
    "text",
    [
        "global:\n  redis:\n    password: hunter2\n",
        "gateway:\n  apiKey: abc\n",
        "x:\n  conn: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v\n",
        "x:\n  url: https://a.blob.core.windows.net/c?sv=2024&sig=abcd\n",
        "x:\n  redis: host:6380,password=s3cr3t,ssl=True\n",
        "x:\n  blob: aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3\n",
    ],
    ids=[
        "password-key",
        "api-key",
        "account-key",
        "sas-token",
        "connection-string",
        "high-entropy",
    ],
)
def test_the_secret_scan_catches_planted_secrets(text):
    assert secret_findings(text)


def test_no_secret_objects_and_secrets_only_by_reference(scenario):
    _, values = scenario
    docs = chartlib.render_docs(values)
    assert "Secret" not in chartlib.kinds(docs)
    referenced = {
        values.get("gateway", {}).get("apiKeys", {}).get("existingSecret"),
        values.get("global", {}).get("redis", {}).get("existingSecret"),
        values.get("drift", {}).get("alerts", {}).get("webhook", {}).get("existingSecret"),
    }
    for doc in docs:
        for where, spec in chartlib.pod_specs(doc):
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    assert volume["secret"]["secretName"] in referenced, (doc.key, where)
            for c in spec.get("containers", []):
                for env in c.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] in referenced, (doc.key, env["name"])
                    assert not secret_findings(yaml.safe_dump({"env": env.get("value", "")}))


def container_problems(c: dict[str, Any], pod_context: dict[str, Any]) -> list[str]:
    sc = c.get("securityContext") or {}
    problems = []
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation")
    if sc.get("privileged"):
        problems.append("privileged")
    if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
        problems.append("capabilities")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem")
    if not (sc.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
        problems.append("runAsNonRoot")
    seccomp = sc.get("seccompProfile") or pod_context.get("seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        problems.append("seccomp")
    for part in ("requests", "limits"):
        if not {"cpu", "memory"} <= set((c.get("resources") or {}).get(part, {})):
            problems.append(f"resources.{part}")
    if any(p["containerPort"] < 1024 for p in c.get("ports", [])):
        problems.append("privileged port")
    return problems


def test_every_pod_and_container_is_restricted(scenario):
    _, values = scenario
    checked = 0
    for doc in chartlib.render_docs(values):
        if doc.kind == "ServingRuntime":  # a container template merged into the ISVC pod
            for c in doc.body["spec"]["containers"]:
                assert container_problems(c, {}) == [], doc.key
            continue
        for where, spec in chartlib.pod_specs(doc):
            checked += 1
            # runAsNonRoot may sit on the pod or on every container (Knative revisions)
            pod_sc = spec.get("securityContext") or {}
            assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", doc.key
            for host in ("hostNetwork", "hostPID", "hostIPC"):
                assert not spec.get(host), (doc.key, where, host)
            empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
            for c in spec["containers"] + spec.get("initContainers", []):
                assert container_problems(c, pod_sc) == [], (doc.key, where, c["name"])
                tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
                assert tmp and tmp[0]["name"] in empty_dirs, (doc.key, where, "no emptyDir /tmp")
    assert checked >= 2


def test_only_the_rayjob_submitting_gateway_and_the_ray_autoscaler_mount_a_token(scenario):
    _, values = scenario
    submits = values.get("batch", {}).get("enabled", True) and values.get("gateway", {}).get(
        "asyncBatch", {}
    ).get("enabled", True)
    autoscales = {  # the RayClusters and their charts' autoscaling defaults
        "spam-platform-batch": values.get("batch", {}).get("autoscaling", {}).get("enabled", False),
        "spam-platform-tuning": values.get("tuning", {})
        .get("autoscaling", {})
        .get("enabled", True),
    }
    for doc in chartlib.render_docs(values):
        if doc.kind == "ServiceAccount":
            assert doc.body["automountServiceAccountToken"] is False, doc.key
        for where, spec in chartlib.pod_specs(doc):
            mounted = spec.get("automountServiceAccountToken")
            if doc.key == ("Deployment", "spam-platform-gateway"):
                assert mounted is bool(submits)
            elif doc.kind == "RayCluster" and where == "headGroupSpec":
                assert mounted is autoscales[doc.name]  # the autoscaler sidecar of the head
            else:
                assert mounted is False, (doc.key, where)


def test_the_gateway_may_only_manage_rayjobs():
    docs = chartlib.render_docs(chartlib.env_values("production"))
    assert not {"ClusterRole", "ClusterRoleBinding"} & chartlib.kinds(docs)
    role = chartlib.only(docs, "Role", "spam-platform-batch-submitter").body
    assert role["rules"] == [
        {
            "apiGroups": ["ray.io"],
            "resources": ["rayjobs"],
            "verbs": ["create", "get", "list", "delete"],
        }
    ]
    binding = chartlib.only(docs, "RoleBinding", "spam-platform-batch-submitter").body
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "spam-platform-gateway", "namespace": chartlib.NAMESPACE}
    ]
    gateway = chartlib.only(docs, "Deployment", "spam-platform-gateway").body
    assert gateway["spec"]["template"]["spec"]["serviceAccountName"] == "spam-platform-gateway"
    assert chartlib.only(docs, "ServiceAccount", "spam-platform-gateway")


def pod_labels(doc: chartlib.Doc) -> list[tuple[str, dict[str, str]]]:
    """(where, labels) of every pod an object creates."""
    body = doc.body
    if doc.kind == "Pod":
        return [("pod", body["metadata"]["labels"])]
    if doc.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [("template", body["spec"]["template"]["metadata"]["labels"])]
    if doc.kind == "CronJob":
        return [("job", body["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])]
    if doc.kind == "InferenceService":
        return [("predictor", body["spec"]["predictor"]["labels"])]
    if doc.kind == "RayCluster":
        spec = body["spec"]
        return [("head", spec["headGroupSpec"]["template"]["metadata"]["labels"])] + [
            (g["groupName"], g["template"]["metadata"]["labels"]) for g in spec["workerGroupSpecs"]
        ]
    out = []
    for job in chartlib.embedded_rayjobs([doc]):
        template = job["spec"].get("submitterPodTemplate")
        if template:
            out.append(("submitter", template["metadata"]["labels"]))
    return out


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return wanted.items() <= labels.items()


@pytest.mark.parametrize(
    "name", [n for n, v in SCENARIOS.items() if networkpolicies_on(v)], ids=str
)
def test_network_policies_deny_by_default_every_pod_of_the_release(name):
    docs = chartlib.render_docs(SCENARIOS[name])
    policies = [d.body for d in docs if d.kind == "NetworkPolicy"]
    deny = chartlib.only(docs, "NetworkPolicy", "spam-platform-default-deny").body
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    pods = [(d.key, where, labels) for d in docs for where, labels in pod_labels(d)]
    assert len(pods) >= 5
    for key, where, labels in pods:
        assert selects(deny, labels), (key, where)
        # every pod also has its explicit allows (the DNS policy alone would not do)
        allows = [p for p in policies if selects(p, labels) and p is not deny]
        assert len(allows) >= 2, (key, where, [p["metadata"]["name"] for p in allows])


def test_production_installs_network_policies():
    assert networkpolicies_on(chartlib.env_values("production"))
    docs = chartlib.render_docs(chartlib.env_values("production"))
    names = {d.name for d in docs if d.kind == "NetworkPolicy"}
    assert {
        "spam-platform-default-deny",
        "spam-platform-allow-dns",
        "spam-platform-gateway",
        "spam-platform-transformer",
        "spam-platform-inference",
        "spam-platform-batch",
    } <= names
